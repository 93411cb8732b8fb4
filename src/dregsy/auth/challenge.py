"""Challenges: what a registry's `WWW-Authenticate` header asks for."""

from __future__ import annotations

import re
from collections.abc import Iterable

from msgspec import Struct, field

_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


class Challenge(Struct, frozen=True):
    """One authentication challenge: `Basic realm=…` or `Bearer realm=…,service=…`."""

    scheme: str  # lower case: "basic" or "bearer"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scopes(self) -> tuple[str, ...]:
        """Scopes the registry named in the challenge (space separated)."""
        return tuple(self.params.get("scope", "").split())


def parse_challenge(header: str) -> Challenge | None:
    """Parse one `WWW-Authenticate` value; None when it is empty or unparsable."""
    text = header.strip()
    if not text:
        return None
    scheme, _, rest = text.partition(" ")
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM_RE.match(rest, pos)
        if not m or m.end() == pos:
            break
        quoted, plain = m.group(2), m.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else plain or ""
        params[m.group(1).lower()] = value
        pos = m.end()
    return Challenge(scheme.lower(), params)


def pick_challenge(headers: Iterable[str]) -> Challenge | None:
    """The challenge to answer among several: Bearer before Basic, unknown schemes ignored."""
    found = [c for h in headers if (c := parse_challenge(h)) is not None]
    for scheme in ("bearer", "basic"):
        for challenge in found:
            if challenge.scheme == scheme:
                return challenge
    return None
