"""Digests: `algorithm:hex` content addresses, and hashing content as it streams past."""

from __future__ import annotations

import hashlib
import re

from dregsy.errors import DigestMismatchError

_DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")


def is_digest(text: str) -> bool:
    """Whether `text` is a sha256 or sha512 digest in canonical form."""
    return _DIGEST_RE.fullmatch(text) is not None


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """The digest of `data`, e.g. `sha256:e3b0…`."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def verify_bytes(data: bytes, expected: str, what: str) -> None:
    """Raise DigestMismatchError unless `data` hashes to `expected`."""
    algorithm = expected.split(":", 1)[0]
    actual = digest_of(data, algorithm)
    if actual != expected:
        raise DigestMismatchError(f"{what}: content has digest {actual}, expected {expected}")


class Verifier:
    """Hashes chunks as they pass and checks the total against a digest and size."""

    def __init__(self, expected: str, size: int | None, what: str) -> None:
        algorithm, _, _ = expected.partition(":")
        self._hash = hashlib.new(algorithm)
        self._expected = expected
        self._size = size
        self.what = what
        self.received = 0

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self.received += len(chunk)
        if self._size is not None and self.received > self._size:
            raise DigestMismatchError(
                f"{self.what}: more than the {self._size} bytes its descriptor declares"
            )

    def check(self) -> None:
        """Raise DigestMismatchError unless everything seen matches size and digest."""
        if self._size is not None and self.received != self._size:
            raise DigestMismatchError(
                f"{self.what}: got {self.received} bytes, expected {self._size}"
            )
        actual = f"{self._expected.partition(':')[0]}:{self._hash.hexdigest()}"
        if actual != self._expected:
            raise DigestMismatchError(
                f"{self.what}: content has digest {actual}, expected {self._expected}"
            )
