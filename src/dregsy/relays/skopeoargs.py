"""The skopeo command line: `skopeo copy` arguments, auth documents and skopeo's messages.

Pure functions, no subprocesses and no files; `dregsy.relays.skopeo` runs what they build.

- Every copy is `skopeo --insecure-policy [--override-*] copy ... docker://SRC docker://DST`,
  with `--all --preserve-digests` for the whole image (an index byte for byte), or, for a
  mapping's `platform: os/arch[/variant]`, `--override-os/-arch/-variant` and
  `--preserve-digests` without `--all` (the target then holds that platform's manifest).
- Credentials never appear in the arguments: a location with `auth` gets a private
  containers auth file (`--src-authfile`), `auth: none` gets `--src-no-creds`, and a location
  without `auth` gets neither, so skopeo's default auth files apply (as in dregsy 0.5).
- TLS follows the rule shared with the native relay, spelled as skopeo's tls-verify flag,
  which is always given explicitly (registries.conf `insecure` entries do not change it).
- Certificates come from dregsy's layout `<certs-dir>/<host without port>/`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

from msgspec import Struct

from dregsy.config.types import Credentials, Location
from dregsy.manifest import Platform
from dregsy.reference import Reference, Registry

Side = Literal["src", "dest"]

AuthDocument = dict[str, dict[str, dict[str, str]]]

# time="2026-11-29T05:16:13Z" level=fatal msg="copying image 1/2 ...: unauthorized"
_LOGRUS_LINE = re.compile(r'^time="[^"]*" level=(?P<level>\w+) msg="(?P<msg>(?:[^"\\]|\\.)*)"')
_GO_ESCAPES = re.compile(r"\\(.)")
_GO_ESCAPED = {"n": " ", "t": " ", '"': '"', "\\": "\\"}
REDACTED = "***"


class Access(Struct, frozen=True):
    """How skopeo reaches one side of a copy."""

    side: Side
    tls_verify: bool
    cert_dir: Path | None = None  # an existing `<certs-dir>/<host>/`
    auth_file: Path | None = None  # a private auth file holding this side's credentials
    no_creds: bool = False  # `auth: none`: anonymous, whatever default auth files say

    def flags(self) -> list[str]:
        flags = [f"--{self.side}-tls-verify={'true' if self.tls_verify else 'false'}"]
        if self.cert_dir is not None:
            flags.append(f"--{self.side}-cert-dir={self.cert_dir}")
        if self.auth_file is not None:
            flags.append(f"--{self.side}-authfile={self.auth_file}")
        elif self.no_creds:
            flags.append(f"--{self.side}-no-creds")
        return flags


def tls_verify(location: Location) -> bool:
    """Whether to verify TLS: no for `http://`, `skip-tls-verify` and loopback hosts
    without a scheme (plain HTTP, as Docker does); yes otherwise.

    skopeo's tls-verify=false tries HTTPS without verification first, then plain HTTP.
    """
    registry = location.registry
    if location.skip_tls_verify or registry.scheme == "http":
        return False
    if registry.scheme == "https":
        return True
    return not registry.is_loopback


def cert_dir_for(certs_dir: Path, registry: Registry) -> Path:
    """dregsy's layout: `<certs-dir>/<host without port>/` (Kubernetes paths cannot hold ':')."""
    return certs_dir / registry.hostname


def auth_token(credentials: Credentials) -> str:
    """The `auth` value of a containers auth file: base64 of `user:password`."""
    text = f"{credentials.username}:{credentials.password}"
    return base64.b64encode(text.encode()).decode()


def auth_document(registry: Registry, credentials: Credentials) -> AuthDocument:
    """A containers auth file (`{"auths": {host: {"auth": ...}}}`) for one registry."""
    return {"auths": {registry.host: {"auth": auth_token(credentials)}}}


def secrets_of(*credentials: Credentials | None) -> list[str]:
    """Strings that must never reach a log: passwords and their auth-file tokens."""
    found: list[str] = []
    for creds in credentials:
        if creds is not None and creds.password:
            found += [creds.password, auth_token(creds)]
    return found


def docker_ref(ref: Reference) -> str:
    """`docker://host/path:tag` or `docker://host/path@digest` (skopeo takes one, not both)."""
    repo = ref.repository
    if ref.digest is not None:
        return f"docker://{repo.registry.host}/{repo.path}@{ref.digest}"
    return f"docker://{repo.registry.host}/{repo.path}:{ref.tag}"


def platform_flags(platform: Platform | None) -> tuple[list[str], list[str]]:
    """(global flags, copy flags) for the whole index (None) or one platform's image."""
    if platform is None:
        return [], ["--all", "--preserve-digests"]
    overrides = ["--override-os", platform.os, "--override-arch", platform.architecture]
    if platform.variant:
        overrides += ["--override-variant", platform.variant]
    return overrides, ["--preserve-digests"]


def copy_argv(
    binary: str,
    source: Reference,
    target: Reference,
    src: Access,
    dest: Access,
    *,
    platform: Platform | None = None,
    retry_times: int = 0,
) -> list[str]:
    """The whole `skopeo copy` command line for one image."""
    global_flags, copy_flags = platform_flags(platform)
    argv = [binary, "--insecure-policy", *global_flags, "copy", *copy_flags]
    if retry_times > 0:
        argv += ["--retry-times", str(retry_times)]
    argv += [*src.flags(), *dest.flags(), docker_ref(source), docker_ref(target)]
    return argv


def message_of(line: str) -> str:
    """One stderr line as text: a logrus line's `msg` (with its level unless fatal)."""
    match = _LOGRUS_LINE.match(line)
    if match is None:
        return line.strip()
    msg = _GO_ESCAPES.sub(lambda m: _GO_ESCAPED.get(m.group(1), m.group(0)), match["msg"])
    level = match["level"]
    return msg if level in ("fatal", "error", "panic") else f"{level}: {msg}"


def failure_message(status: int, stderr_lines: Sequence[str], *, limit: int = 3) -> str:
    """The end of skopeo's stderr as one line: what an image's error says."""
    messages = [m for m in (message_of(line) for line in stderr_lines) if m]
    if not messages:
        return f"skopeo exited with status {status} and no message"
    return "; ".join(messages[-limit:])


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by `***`."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text
