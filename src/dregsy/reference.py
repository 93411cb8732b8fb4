"""References: registries, repositories, tags and digests, parsed once and kept typed.

Docker Hub rules live here and nowhere else: `docker.io`, `index.docker.io`,
`registry-1.docker.io` and `registry.hub.docker.com` (the name dregsy's own docs and
fixtures use) are one registry whose API is served by `registry-1.docker.io`, and
one-segment repositories there get the implicit `library/` namespace.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal

from msgspec import Struct

from dregsy.digest import is_digest
from dregsy.errors import InvalidReferenceError

Scheme = Literal["https", "http"]

DOCKER_HUB = "docker.io"
DOCKER_HUB_API_HOST = "registry-1.docker.io"
_DOCKER_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)

# https://github.com/distribution/reference/blob/main/regexp.go
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}")
_HOST_LABEL = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)"
_HOST_RE = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*(?::[0-9]{{1,5}})?")
_IPV6_RE = re.compile(r"\[([0-9a-fA-F:.]+)\](?::[0-9]{1,5})?")
_ECR_PRIVATE_RE = re.compile(
    r"(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
)
_ECR_PUBLIC_HOST = "public.ecr.aws"


class Registry(Struct, frozen=True):
    """A registry host as configured: `host[:port]`, with an optional forced scheme."""

    host: str  # lower-case host[:port]; Docker Hub is always "docker.io"
    scheme: Scheme | None = None  # None: https, with plain http allowed for loopback hosts
    ecr_public_alias: str | None = None  # `<account>[:<region>]` of dregsy's public ECR form

    @property
    def api_host(self) -> str:
        """The host[:port] that serves the /v2/ API."""
        return DOCKER_HUB_API_HOST if self.host == DOCKER_HUB else self.host

    @property
    def hostname(self) -> str:
        """The host without its port (and without IPv6 brackets)."""
        m = _IPV6_RE.fullmatch(self.host)
        if m:
            return m.group(1)
        return self.host.rsplit(":", 1)[0] if ":" in self.host else self.host

    @property
    def is_docker_hub(self) -> bool:
        return self.host == DOCKER_HUB

    @property
    def is_loopback(self) -> bool:
        """localhost, 127.0.0.0/8 and ::1, which Docker treats as insecure registries."""
        name = self.hostname
        if name == "localhost" or name.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    @property
    def is_ecr(self) -> bool:
        """AWS ECR, private (`<account>.dkr.ecr.<region>.amazonaws.com`) or public."""
        return self.ecr_region is not None or self.hostname == _ECR_PUBLIC_HOST

    @property
    def ecr_region(self) -> str | None:
        """The region of a private ECR registry, from its host name."""
        m = _ECR_PRIVATE_RE.fullmatch(self.hostname)
        return m.group("region") if m else None

    def repository(self, path: str) -> Repository:
        return Repository.parse(self, path)

    def __str__(self) -> str:
        return self.host


def parse_registry(text: str) -> Registry:
    """Parse `[http://|https://]host[:port]` (and dregsy's `<account>@public.ecr.aws`)."""
    raw = text.strip()
    scheme: Scheme | None = None
    lowered = raw.lower()
    for prefix in ("https://", "http://"):
        if lowered.startswith(prefix):
            scheme = "https" if prefix == "https://" else "http"
            raw = raw[len(prefix) :]
            break
    raw = raw.rstrip("/")
    alias = None
    if "@" in raw:
        alias, _, raw = raw.partition("@")
        if raw.lower() != _ECR_PUBLIC_HOST or not alias:
            # What precedes '@' may be `user:password`: never repeat it.
            raise InvalidReferenceError(
                f"invalid registry '…@{text.rpartition('@')[2]}': only public ECR takes the form "
                "<account>@public.ecr.aws (credentials go in 'auth', not in the registry)"
            )
    if not raw or not (_HOST_RE.fullmatch(raw) or _IPV6_RE.fullmatch(raw)):
        raise InvalidReferenceError(f"invalid registry {text!r}: expected host[:port]")
    if ":" in raw and not raw.startswith("["):
        port = int(raw.rsplit(":", 1)[1])
        if not 0 < port < 65536:
            raise InvalidReferenceError(f"invalid registry {text!r}: port out of range")
    host = raw.lower()
    if host in _DOCKER_HUB_ALIASES:
        host = DOCKER_HUB
    return Registry(host=host, scheme=scheme, ecr_public_alias=alias)


class Repository(Struct, frozen=True):
    """A repository in a registry, e.g. `127.0.0.1:5000` + `demo/app`."""

    registry: Registry
    path: str

    @classmethod
    def parse(cls, registry: Registry, path: str) -> Repository:
        clean = path.strip().strip("/")
        if not _PATH_RE.fullmatch(clean):
            hint = " (repository names must be lower-case)" if clean != clean.lower() else ""
            raise InvalidReferenceError(f"invalid repository path {path!r}{hint}")
        if registry.is_docker_hub and "/" not in clean:
            clean = f"library/{clean}"
        return cls(registry, clean)

    def scope(self, *actions: str) -> str:
        """The token scope for these actions, e.g. `repository:demo/app:pull,push`."""
        return f"repository:{self.path}:{','.join(actions)}"

    def tag(self, tag: str) -> Reference:
        if not _TAG_RE.fullmatch(tag):
            raise InvalidReferenceError(f"invalid tag {tag!r}")
        return Reference(self, tag=tag)

    def digest(self, digest: str) -> Reference:
        if not is_digest(digest):
            raise InvalidReferenceError(f"invalid digest {digest!r}")
        return Reference(self, digest=digest)

    def __str__(self) -> str:
        return f"{self.registry.host}/{self.path}"


class Reference(Struct, frozen=True):
    """A manifest in a repository, named by tag, by digest, or both (`tag@digest`)."""

    repository: Repository
    tag: str | None = None
    digest: str | None = None

    @property
    def identifier(self) -> str:
        """What goes after `/manifests/`: the digest when known, else the tag."""
        if self.digest is not None:
            return self.digest
        assert self.tag is not None
        return self.tag

    def __str__(self) -> str:
        text = str(self.repository)
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


def is_valid_tag(tag: str) -> bool:
    return _TAG_RE.fullmatch(tag) is not None
