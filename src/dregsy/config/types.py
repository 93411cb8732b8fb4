"""The resolved config: frozen values the rest of dregsy runs on.

`dregsy.config.load` checks a file and turns it into these; nothing else reads YAML.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from msgspec import Struct

from dregsy.credentials import Credentials
from dregsy.errors import ConfigProblem
from dregsy.observe.address import ListenAddress
from dregsy.reference import Registry
from dregsy.selection.paths import RepoRule
from dregsy.selection.tagset import TagSelection

__all__ = [
    "Config",
    "Credentials",
    "DockerSettings",
    "ListerKind",
    "ListerSettings",
    "ListerSpec",
    "Location",
    "Mapping",
    "RateLimit",
    "ReferrerSettings",
    "RelayKind",
    "SkopeoSettings",
    "Task",
]

# Chosen from the benchmark's W5 (20 ms per round trip; README, "parallel and
# max-connections"): a no-op is bound by round trips, so requests in flight matter most;
# 32 images and 16 connections per registry and role ran it fastest with little more
# memory than 8 and 8, and keep the connections to one registry modest.
DEFAULT_PARALLEL = 32
DEFAULT_STALL_TIMEOUT = 300.0  # seconds a blob download may go without progress
DEFAULT_MAX_TAGS = 100_000  # tags of one repository at most
DEFAULT_MAX_CONNECTIONS = 16
DEFAULT_CERTS_DIR = Path("/etc/docker/certs.d")
DEFAULT_SKOPEO_CERTS_DIR = Path("/etc/skopeo/certs.d")
DEFAULT_RATELIMIT_RETRY = 300.0  # seconds (`ratelimit.retry`: 5m)


class RelayKind(StrEnum):
    """How images are moved."""

    NATIVE = "native"
    DOCKER = "docker"
    SKOPEO = "skopeo"


class ListerKind(StrEnum):
    """How a source's repositories are listed for regex mappings (`lister.type`)."""

    CATALOG = "catalog"  # the registry's /v2/_catalog
    DOCKERHUB = "dockerhub"  # Docker Hub's API: the repositories of the `auth` user
    INDEX = "index"  # an index search (`/v1/search?q=<search>`)


class ListerSpec(Struct, frozen=True):
    """A location's `lister:`."""

    kind: ListerKind = ListerKind.CATALOG
    search: str | None = None  # the search term of the index lister


class RateLimit(Struct, frozen=True):
    """A source's `ratelimit:` keep `min` pulls of the registry's quota, rechecking every
    `retry` seconds while fewer are left."""

    min: int
    retry: float = DEFAULT_RATELIMIT_RETRY


class Location(Struct, frozen=True):
    """One side of a task: a registry and how to authenticate with it."""

    registry: Registry
    credentials: Credentials | None = None  # from `auth`; None: anonymous
    anonymous: bool = False  # `auth: none`: never look up credentials elsewhere
    auth_refresh: float | None = None  # seconds, ECR only (`auth-refresh`)
    skip_tls_verify: bool = False
    lister: ListerSpec = ListerSpec()  # used for the source of regex mappings
    max_connections: int = DEFAULT_MAX_CONNECTIONS  # to this registry (`max-connections`)
    prefix: str = ""  # the path of `registry: host/path`: a prefix of every repository
    ratelimit: RateLimit | None = None  # sources only: wait while the pull quota is low


class ReferrerSettings(Struct, frozen=True):
    """What travels with an image besides itself (`referrers`, `referrer-types`,
    `digest-tags`, on a mapping or as the task's default for its mappings)."""

    referrers: bool = False  # copy the OCI referrers (signatures, SBOMs, attestations)
    types: tuple[str, ...] | None = None  # only referrers of these artifactTypes; None: all
    digest_tags: bool = False  # copy cosign's `sha256-<hex>.sig/.att/.sbom` tags
    keys: tuple[str, ...] = ()  # the keys given where these were set (for messages)

    @property
    def enabled(self) -> bool:
        return self.referrers or self.digest_tags

    def wants(self, artifact_type: str) -> bool:
        """Whether a referrer of `artifact_type` is copied."""
        return self.types is None or artifact_type in self.types


class Mapping(Struct, frozen=True):
    """Copy `source` (a repository path of the task's source) to `target`.

    With `repos` (a `from: regex:...` mapping) `source` and `target` are the `from` and
    `to` as written, and `repos` names each listed repository and its target.
    """

    source: str
    target: str
    tags: TagSelection | None = None  # None: every tag of the source repository
    platform: str | None = None  # None: the relay's default (native: the whole index)
    repos: RepoRule | None = None  # a regex mapping over the source's repository list
    platforms: tuple[str, ...] | None = None  # a subset: a new index listing exactly these
    referrers: ReferrerSettings = ReferrerSettings()


class Task(Struct, frozen=True):
    """A named set of mappings between two locations, run once or every `interval` seconds."""

    name: str
    source: Location
    target: Location
    mappings: tuple[Mapping, ...]
    interval: float = 0.0  # seconds; 0: one-off
    verbose: bool = False
    unique_name: str = ""  # set when another task has the same name: `name#2`, ...
    referrer_keys: tuple[str, ...] = ()  # referrer keys given on the task (mapping defaults)

    @property
    def periodic(self) -> bool:
        return self.interval > 0

    @property
    def label(self) -> str:
        """The task's name in logs (and metrics): unique even where names repeat, as
        dregsy allows; the second task named `mirror` is `mirror#2`."""
        return self.unique_name or self.name


class DockerSettings(Struct, frozen=True):
    """The Docker relay's daemon (`docker:` section, or the seed's top-level keys)."""

    host: str | None = None  # None: DOCKER_HOST, else the standard socket
    api_version: str | None = None  # None: negotiated with the daemon
    keep_images: bool = False  # keep what the relay pulled and tagged (`keep-images`)
    ping_attempts: int = 30  # tries to reach the daemon at start (`ping-attempts`)
    ping_interval: float = 10.0  # seconds between those tries (`ping-interval`)


class SkopeoSettings(Struct, frozen=True):
    """The skopeo relay (`skopeo:` section)."""

    binary: str = "skopeo"
    certs_dir: Path = DEFAULT_SKOPEO_CERTS_DIR


class ListerSettings(Struct, frozen=True):
    """Global repository-lister settings (`lister:`): used by regex mappings."""

    max_items: int = 100  # -1: unlimited
    cache_duration: float | None = 3600.0  # seconds; None: no cache


class Config(Struct, frozen=True):
    """A whole config file, validated."""

    tasks: tuple[Task, ...]
    relay: RelayKind = RelayKind.NATIVE
    relay_reason: str = "default"  # why this relay, for messages ("relay: docker", "dockerhost")
    watch: bool = False
    certs_dir: Path = DEFAULT_CERTS_DIR
    docker: DockerSettings = DockerSettings()
    skopeo: SkopeoSettings = SkopeoSettings()
    lister: ListerSettings = ListerSettings()
    parallel: int = DEFAULT_PARALLEL  # images in flight across all tasks (`parallel`)
    # what dregsy accepts but its author probably did not mean, logged at start
    warnings: tuple[ConfigProblem, ...] = ()
    stall_timeout: float = DEFAULT_STALL_TIMEOUT  # `stall-timeout` (native relay)
    max_tags: int = DEFAULT_MAX_TAGS  # `max-tags`: an endless tag list fails here
    listen: ListenAddress | None = None  # the HTTP endpoint (`listen`); None: off
