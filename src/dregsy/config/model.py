"""The config file's shape: dregsy's YAML keys, section by section, and their checks.

Each section lists its keys (`dregsy.config.schema.Key`) and becomes a frozen Struct
once every key is valid; the checks that span keys of one section run then. Unknown keys
are errors, scalars are strict, and keys are matched as written (`auth_refresh` is an
unknown key, not a synonym of `auth-refresh`). These classes only describe the file;
`dregsy.config.resolve` turns them into the frozen Structs of `dregsy.config.types`.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from dregsy.config.fields import (
    Problem,
    parse_auth,
    parse_auth_refresh,
    parse_cache_duration,
    parse_interval,
    parse_media_type,
    parse_platform,
    parse_platforms,
    parse_refresh,
    parse_registry,
    parse_source,
    parse_tag,
    parse_target,
    parse_wait,
    rewritten_path,
)
from dregsy.config.issues import Issue
from dregsy.config.schema import (
    Invalid,
    Key,
    boolean,
    check_mapping,
    integer,
    list_of,
    one_of,
    text,
)
from dregsy.config.types import DEFAULT_RATELIMIT_RETRY
from dregsy.credentials import Credentials
from dregsy.observe.address import AddressError, ListenAddress, parse_listen
from dregsy.reference import Registry
from dregsy.selection.filters import TagEntry
from dregsy.selection.paths import Rewrite, SourcePattern


class DockerSection(Struct, frozen=True):
    """`docker:`: the Docker relay's daemon."""

    dockerhost: str | None
    api_version: str | None
    keep_images: bool
    ping_attempts: int | None
    ping_interval: float | None


class SkopeoSection(Struct, frozen=True):
    """`skopeo:`: the skopeo relay."""

    binary: str | None
    certs_dir: str | None


class GlobalLister(Struct, frozen=True):
    """Top-level `lister:`: repository listing for regex mappings."""

    max_items: int | None
    cache_duration: float | None


class LocationLister(Struct, frozen=True):
    """A location's `lister:`: how to list the source's repositories."""

    type: Literal["catalog", "dockerhub", "index"]
    search: str | None


class RateLimitSection(Struct, frozen=True):
    """A source's `ratelimit:`: the pull quota to keep, and how often to look again."""

    min: int
    retry: float


class LocationModel(Struct, frozen=True):
    """`source:` or `target:`."""

    registry: Registry
    auth: Credentials | Literal["none"] | None
    auth_refresh: float | None
    skip_tls_verify: bool
    lister: LocationLister | None
    max_connections: int | None
    ratelimit: RateLimitSection | None


class MappingModel(Struct, frozen=True):
    """One entry of `mappings:`."""

    from_: str | SourcePattern
    to: str | Rewrite | None
    tags: tuple[TagEntry, ...] | None
    platform: str | None
    platforms: tuple[str, ...] | None
    referrers: bool | None
    referrer_types: tuple[str, ...] | None
    digest_tags: bool | None


class TaskModel(Struct, frozen=True):
    """One entry of `tasks:`."""

    name: str
    interval: float
    verbose: bool
    source: LocationModel
    target: LocationModel
    mappings: tuple[MappingModel, ...] | None  # None or (): does nothing, as in dregsy
    referrers: bool | None
    referrer_types: tuple[str, ...] | None
    digest_tags: bool | None


class TopModel(Struct, frozen=True, kw_only=True):
    """Every top-level key except `tasks` (checked alone when some task is broken)."""

    relay: Literal["native", "docker", "skopeo"] | None
    dockerhost: str | None  # deprecated seed key
    api_version: str | None  # deprecated seed key
    docker: DockerSection | None
    skopeo: SkopeoSection | None
    certs_dir: str | None
    watch: bool
    lister: GlobalLister | None
    parallel: int | None
    stall_timeout: float | None
    max_tags: int | None
    listen: ListenAddress | None


class ConfigModel(TopModel, frozen=True, kw_only=True):
    """A whole config file."""

    tasks: tuple[TaskModel, ...] | None  # None or (): does nothing, as in dregsy


def _docker(value: object) -> DockerSection:
    return DockerSection(**check_mapping(value, _DOCKER_KEYS))


def _skopeo(value: object) -> SkopeoSection:
    return SkopeoSection(**check_mapping(value, _SKOPEO_KEYS))


def _global_lister(value: object) -> GlobalLister:
    return GlobalLister(**check_mapping(value, _GLOBAL_LISTER_KEYS))


def _listen(value: object) -> ListenAddress:
    try:
        return parse_listen(text(value))
    except AddressError as exc:
        raise Problem(str(exc)) from None


def _location_lister(value: object) -> LocationLister:
    # an index lister without `search` is only a problem when a regex mapping uses it
    return LocationLister(**check_mapping(value, _LOCATION_LISTER_KEYS))


def _ratelimit(value: object) -> RateLimitSection:
    return RateLimitSection(**check_mapping(value, _RATELIMIT_KEYS))


def _location(value: object) -> LocationModel:
    location = LocationModel(**check_mapping(value, _LOCATION_KEYS))
    if location.auth_refresh is not None and not location.registry.is_ecr:
        message = f"only works with AWS ECR registries, and '{location.registry}' is not one"
        raise Problem(message, key="auth-refresh")
    return location


def _mapping(value: object) -> MappingModel:
    mapping = MappingModel(**check_mapping(value, _MAPPING_KEYS))
    if isinstance(mapping.from_, str) and isinstance(mapping.to, Rewrite):
        rewritten_path(mapping.from_, mapping.to, key="to")
    if mapping.platform is not None and mapping.platforms:
        raise Problem("cannot be used together with 'platform'", key="platforms")
    return mapping


def _task(value: object) -> TaskModel:
    task = TaskModel(**check_mapping(value, _TASK_KEYS))
    if task.target.ratelimit is not None:
        message = "only applies to a task's source (the registry images are pulled from)"
        raise Invalid([Issue(("target", "ratelimit"), message)])
    _check_referrer_types(task)
    if not any(isinstance(m.from_, SourcePattern) for m in task.mappings or ()):
        return task
    kind = task.source.lister.type if task.source.lister else "catalog"
    if kind == "index" and task.source.lister and task.source.lister.search is None:
        message = "is required when type is 'index' and a mapping's 'from' is a regex"
        raise Invalid([Issue(("source", "lister", "search"), message)])
    if kind == "catalog" and task.source.registry.is_docker_hub:
        message = (
            "Docker Hub has no repository catalog for regex mappings: set "
            "'lister: {type: dockerhub}' (the repositories of the 'auth' user) or "
            "'lister: {type: index, search: ...}'"
        )
        raise Problem(message, key="source")
    if kind == "dockerhub" and not isinstance(task.source.auth, Credentials):
        message = "lister type 'dockerhub' lists the repositories of the 'auth' user: set 'auth'"
        raise Problem(message, key="source")
    return task


def _check_referrer_types(task: TaskModel) -> None:
    """`referrer-types` restricts `referrers`: given where no referrers are copied, it is
    a mistake (a mapping's own `referrers` wins over the task's)."""
    message = "has no effect without 'referrers: true'"
    mappings = task.mappings or ()
    copying = [task.referrers if m.referrers is None else m.referrers for m in mappings]
    issues = [
        Issue(("mappings", j, "referrer-types"), message)
        for j, mapping in enumerate(mappings)
        if mapping.referrer_types and not copying[j]
    ]
    if task.referrer_types and not any(copying):
        issues.insert(0, Issue(("referrer-types",), message))
    if issues:
        raise Invalid(issues)


def check_top(value: object) -> TopModel:
    """The top-level keys other than `tasks`; raises `Invalid` or `Problem`."""
    return TopModel(**check_mapping(value, TOP_KEYS))


def check_config(value: object) -> ConfigModel:
    """A whole config file; raises `Invalid` or `Problem`."""
    return ConfigModel(**check_mapping(value, (*TOP_KEYS, _TASKS_KEY)))


_DOCKER_KEYS = (
    Key("dockerhost", text),
    Key("api-version", text),
    Key("keep-images", boolean, default=False),
    Key("ping-attempts", integer(low=1)),
    Key("ping-interval", parse_interval),
)
_SKOPEO_KEYS = (Key("binary", text), Key("certs-dir", text))
_GLOBAL_LISTER_KEYS = (
    Key("maxItems", integer(), field="max_items"),
    Key("cacheDuration", parse_cache_duration, field="cache_duration"),
)
_LOCATION_LISTER_KEYS = (
    Key("type", one_of("catalog", "dockerhub", "index"), required=True),
    Key("search", text),
)
_LOCATION_KEYS = (
    Key("registry", parse_registry, required=True),
    Key("auth", parse_auth),
    Key("auth-refresh", parse_auth_refresh),
    Key("skip-tls-verify", boolean, default=False),
    Key("lister", _location_lister),
    Key("max-connections", integer(low=1, high=256)),
    Key("ratelimit", _ratelimit),
)
_RATELIMIT_KEYS = (
    Key("min", integer(low=1), required=True),
    Key("retry", parse_wait, default=DEFAULT_RATELIMIT_RETRY),
)
# On a mapping, and on a task as the default of its mappings.
_REFERRER_KEYS = (
    Key("referrers", boolean),
    Key("referrer-types", list_of(parse_media_type, non_empty=True)),
    Key("digest-tags", boolean),
)
_MAPPING_KEYS = (
    Key("from", parse_source, field="from_", required=True),
    Key("to", parse_target),
    Key("tags", list_of(parse_tag)),
    Key("platform", parse_platform),
    Key("platforms", parse_platforms),
    *_REFERRER_KEYS,
)
_TASK_KEYS = (
    Key("name", text, required=True),
    Key("interval", parse_interval, default=0.0),
    Key("verbose", boolean, default=False),
    Key("source", _location, required=True),
    Key("target", _location, required=True),
    Key("mappings", list_of(_mapping)),
    *_REFERRER_KEYS,
)
TOP_KEYS = (
    Key("relay", one_of("native", "docker", "skopeo")),
    Key("dockerhost", text),
    Key("api-version", text),
    Key("docker", _docker),
    Key("skopeo", _skopeo),
    Key("certs-dir", text),
    Key("watch", boolean, default=False),
    Key("lister", _global_lister),
    Key("parallel", integer(low=1, high=256)),
    Key("stall-timeout", parse_refresh),
    Key("max-tags", integer(low=1, high=10_000_000)),
    Key("listen", _listen),
)
_TASKS_KEY = Key("tasks", list_of(_task))
