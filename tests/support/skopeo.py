"""skopeo as an independent test tool: push layouts, read raw manifests, list tags.

Credentials only ever travel in a temporary containers auth file (mode 0600), never on
the command line; an empty auth file is passed for anonymous access so that no ambient
credentials leak in. Plain-HTTP registries need ``tls_verify=False`` even on loopback.
Failures raise :class:`SkopeoError` carrying the end of skopeo's stderr.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.support.procs import require_binary

SKOPEO = "skopeo"
BLOB_INFO_CACHE = Path("/var/lib/containers/cache/blob-info-cache-v1.boltdb")
"""skopeo's (and podman's) shared cache of blob locations when run as root."""

Creds = tuple[str, str]


class SkopeoError(RuntimeError):
    """skopeo exited with an error (or timed out)."""

    def __init__(self, argv: Sequence[str], returncode: int | None, stderr: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        super().__init__(f"skopeo failed (status {returncode}): {' '.join(self.argv)}\n{tail}")


def clear_blob_info_cache(path: Path = BLOB_INFO_CACHE) -> bool:
    """Delete skopeo's blob-info cache (recreated on the next run); True if it existed.

    The cache remembers blobs seen in other registries; without ``--preserve-digests``
    skopeo may then reuse a differently compressed equivalent and change digests.
    """
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def docker_ref(ref: str) -> str:
    """Prefix ``docker://`` unless *ref* already names a transport."""
    return ref if ref.startswith("docker://") else f"docker://{ref}"


def registry_host(ref: str) -> str:
    """The ``host:port`` part of a docker reference."""
    return ref.removeprefix("docker://").split("/", 1)[0]


@contextmanager
def auth_file(host: str, creds: Creds | None) -> Iterator[Path]:
    """A temporary containers-format auth file (mode 0600) holding *creds* for *host*."""
    auths: dict[str, dict[str, str]] = {}
    if creds is not None:
        token = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        auths[host] = {"auth": token}
    with tempfile.TemporaryDirectory(prefix="dregsy-skopeo-auth-") as directory:
        path = Path(directory) / "auth.json"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            json.dump({"auths": auths}, stream)
        yield path


def run(args: Sequence[str], *, timeout: float = 120.0) -> bytes:
    """Run ``skopeo ARGS`` and return stdout; raise :class:`SkopeoError` on failure."""
    argv = [require_binary(SKOPEO), *args]
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            raise SkopeoError(
                argv, None, stderr.decode(errors="replace") + f"\n(timed out after {timeout} s)"
            ) from None
    if process.returncode != 0:
        raise SkopeoError(argv, process.returncode, stderr.decode(errors="replace"))
    return stdout


def _tls_flags(prefix: str, tls_verify: bool, cert_dir: Path | None) -> list[str]:
    flags = [f"--{prefix}tls-verify={'true' if tls_verify else 'false'}"]
    if cert_dir is not None:
        flags.append(f"--{prefix}cert-dir={cert_dir}")
    return flags


def push(
    layout_dir: Path,
    tag: str,
    dest_ref: str,
    *,
    all_platforms: bool = True,
    creds: Creds | None = None,
    tls_verify: bool = False,
    cert_dir: Path | None = None,
    timeout: float = 120.0,
) -> None:
    """``skopeo copy [--all --preserve-digests] oci:LAYOUT:TAG docker://DEST``.

    Without *all_platforms* skopeo silently pushes only the host platform's manifest of
    an index, and the tag then points at that manifest.
    """
    dest = docker_ref(dest_ref)
    with auth_file(registry_host(dest), creds) as authfile:
        args = ["copy", "--quiet", f"--dest-authfile={authfile}"]
        if all_platforms:
            args += ["--all", "--preserve-digests"]
        args += _tls_flags("dest-", tls_verify, cert_dir)
        args += [f"oci:{layout_dir}:{tag}", dest]
        run(args, timeout=timeout)


def inspect_raw(
    ref: str,
    *,
    creds: Creds | None = None,
    tls_verify: bool = False,
    cert_dir: Path | None = None,
) -> bytes:
    """The raw manifest bytes of *ref* (``skopeo inspect --raw``)."""
    source = docker_ref(ref)
    with auth_file(registry_host(source), creds) as authfile:
        args = ["inspect", "--raw", f"--authfile={authfile}"]
        args += _tls_flags("", tls_verify, cert_dir)
        return run([*args, source])


def digest_of(
    ref: str,
    *,
    creds: Creds | None = None,
    tls_verify: bool = False,
    cert_dir: Path | None = None,
) -> str:
    """``sha256:`` + sha256 of the raw manifest: the digest the tag points at."""
    raw = inspect_raw(ref, creds=creds, tls_verify=tls_verify, cert_dir=cert_dir)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def list_tags(
    repo_ref: str,
    *,
    creds: Creds | None = None,
    tls_verify: bool = False,
    cert_dir: Path | None = None,
) -> list[str]:
    """The tags of a repository (``skopeo list-tags``), in the registry's (unsorted) order."""
    source = docker_ref(repo_ref)
    with auth_file(registry_host(source), creds) as authfile:
        args = ["list-tags", f"--authfile={authfile}"]
        args += _tls_flags("", tls_verify, cert_dir)
        output = json.loads(run([*args, source]))
    tags: list[str] = output.get("Tags") or []
    return tags
