"""From validated models to the frozen values of `dregsy.config.types`.

The checks that span several keys live here: which relay runs and whether the file
contradicts it. Task names may repeat, as in dregsy: each task gets a unique label for
logs. Everything else was checked while validating, so building the result cannot fail.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingOf
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from dregsy.config.fields import NO_AUTH, rewritten_path
from dregsy.config.issues import Issue, Loc
from dregsy.config.model import (
    ConfigModel,
    LocationLister,
    LocationModel,
    MappingModel,
    TaskModel,
    TopModel,
)
from dregsy.config.types import (
    DEFAULT_CERTS_DIR,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_TAGS,
    DEFAULT_PARALLEL,
    DEFAULT_SKOPEO_CERTS_DIR,
    DEFAULT_STALL_TIMEOUT,
    Config,
    Credentials,
    DockerSettings,
    ListerKind,
    ListerSettings,
    ListerSpec,
    Location,
    Mapping,
    RateLimit,
    ReferrerSettings,
    RelayKind,
    SkopeoSettings,
    Task,
)
from dregsy.reference import Repository
from dregsy.selection.paths import RepoRule, Rewrite, SourcePattern
from dregsy.selection.tagset import TagSelection

_V = TypeVar("_V")
_DEFAULT_LISTER = ListerSettings()
_DEFAULT_DOCKER = DockerSettings()


def choose_relay(top: TopModel) -> tuple[RelayKind, str, list[Issue]]:
    """The relay, why it was chosen (for messages), and keys that contradict it.

    As in dregsy, only a top-level `dockerhost` contradicts another relay; a `docker:`
    section or a top-level `api-version` is merely unused (`lenient.unused_relay_settings`
    warns about it)."""
    docker_keys = [
        key
        for key, given in (
            ("dockerhost", top.dockerhost is not None),
            ("api-version", top.api_version is not None),
            ("docker", top.docker is not None),
        )
        if given
    ]
    if top.relay is None:
        if docker_keys:
            return RelayKind.DOCKER, docker_keys[0], []
        return RelayKind.NATIVE, "default", []
    relay = RelayKind(top.relay)
    issues = []
    if relay is not RelayKind.DOCKER and top.dockerhost is not None:
        message = f"implies the docker relay, but relay is '{relay}'"
        issues = [Issue(("dockerhost",), message)]
    return relay, f"relay: {relay}", issues


def cross_check(top: TopModel | None) -> list[Issue]:
    """Problems between keys: relay contradictions."""
    return choose_relay(top)[2] if top is not None else []


def unique_names(names: Sequence[str]) -> list[str]:
    """Each name, or `name#n` for its n-th use (n >= 2; higher if a task is named so)."""
    taken = set(names)
    count: dict[str, int] = {}
    labels = []
    for name in names:
        number = count[name] = count.get(name, 0) + 1
        if number > 1:
            while f"{name}#{number}" in taken:
                number += 1
            name = f"{name}#{number}"
            taken.add(name)
        labels.append(name)
    return labels


def build(
    model: ConfigModel, base_dir: Path | None, prefixes: MappingOf[Loc, str] | None = None
) -> Config:
    """The resolved config of a model that passed `cross_check`; `prefixes` are the paths of
    `registry: host/path` values (by key path, e.g. `("tasks", 0, "source")`)."""
    relay, reason, _ = choose_relay(model)
    skopeo = model.skopeo
    tasks = model.tasks or ()
    labels = unique_names([task.name for task in tasks])
    prefixes = prefixes or {}
    return Config(
        tasks=tuple(
            _task(
                task,
                label if label != task.name else "",
                prefixes.get(("tasks", i, "source"), ""),
                prefixes.get(("tasks", i, "target"), ""),
            )
            for i, (task, label) in enumerate(zip(tasks, labels, strict=True))
        ),
        relay=relay,
        relay_reason=reason,
        watch=model.watch,
        certs_dir=_path(model.certs_dir, base_dir, DEFAULT_CERTS_DIR),
        docker=_docker(model),
        skopeo=SkopeoSettings(
            binary=_binary(skopeo.binary if skopeo else None, base_dir),
            certs_dir=_path(
                skopeo.certs_dir if skopeo else None, base_dir, DEFAULT_SKOPEO_CERTS_DIR
            ),
        ),
        lister=_lister(model),
        parallel=model.parallel or DEFAULT_PARALLEL,
        stall_timeout=model.stall_timeout or DEFAULT_STALL_TIMEOUT,
        max_tags=model.max_tags or DEFAULT_MAX_TAGS,
        listen=model.listen,
    )


def _docker(model: ConfigModel) -> DockerSettings:
    """The `docker:` section, with the seed's top-level `dockerhost` / `api-version`."""
    docker = model.docker
    if docker is None:
        return DockerSettings(host=model.dockerhost, api_version=model.api_version)
    return DockerSettings(
        host=docker.dockerhost or model.dockerhost,
        api_version=docker.api_version or model.api_version,
        keep_images=docker.keep_images,
        ping_attempts=docker.ping_attempts or _DEFAULT_DOCKER.ping_attempts,
        ping_interval=(
            _DEFAULT_DOCKER.ping_interval if docker.ping_interval is None else docker.ping_interval
        ),
    )


def _task(task: TaskModel, unique_name: str, source_prefix: str, target_prefix: str) -> Task:
    return Task(
        name=task.name,
        source=_location(task.source, source_prefix),
        target=_location(task.target, target_prefix),
        mappings=tuple(
            _mapping(m, task, source_prefix, target_prefix) for m in task.mappings or ()
        ),
        interval=task.interval,
        verbose=task.verbose,
        unique_name=unique_name,
        referrer_keys=_referrer_keys(task),
    )


def _location(location: LocationModel, prefix: str) -> Location:
    return Location(
        prefix=prefix,
        registry=location.registry,
        credentials=location.auth if isinstance(location.auth, Credentials) else None,
        anonymous=location.auth == NO_AUTH,
        auth_refresh=location.auth_refresh,
        skip_tls_verify=location.skip_tls_verify,
        lister=_lister_spec(location.lister),
        max_connections=location.max_connections or DEFAULT_MAX_CONNECTIONS,
        ratelimit=(
            RateLimit(location.ratelimit.min, location.ratelimit.retry)
            if location.ratelimit is not None
            else None
        ),
    )


def _lister_spec(lister: LocationLister | None) -> ListerSpec:
    if lister is None:
        return ListerSpec()
    return ListerSpec(ListerKind(lister.type), lister.search)


def _mapping(
    mapping: MappingModel, task: TaskModel, source_prefix: str, target_prefix: str
) -> Mapping:
    tags = TagSelection(mapping.tags) if mapping.tags else None
    from_, to = mapping.from_, mapping.to
    repos = None
    if isinstance(from_, SourcePattern):
        # `source`/`target` keep `from`/`to` as written, for messages; `repos` does the work
        repos = RepoRule(from_, to)
        source = str(from_)
        target = str(to or from_)
    else:
        # Parsed against each side's registry, so Docker Hub's `library/` prefix is applied.
        # A `to: regex:...` rewrites `from` as written (dregsy: `/` + from).
        if isinstance(to, Rewrite):
            to = rewritten_path(from_, to, key="to")
        source = Repository.parse(task.source.registry, _join(source_prefix, from_)).path
        target = Repository.parse(task.target.registry, _join(target_prefix, to or from_)).path
    return Mapping(
        source=source,
        target=target,
        tags=tags,
        repos=repos,
        platform=mapping.platform,
        platforms=mapping.platforms or None,
        referrers=_referrers(mapping, task),
    )


def _referrer_keys(section: MappingModel | TaskModel) -> tuple[str, ...]:
    """The referrer keys a mapping or task sets to something that asks for work."""
    given = (
        ("referrers", section.referrers),
        ("referrer-types", section.referrer_types),
        ("digest-tags", section.digest_tags),
    )
    return tuple(name for name, value in given if value)


def _referrers(mapping: MappingModel, task: TaskModel) -> ReferrerSettings:
    """A mapping's own referrer keys, else the task's."""

    def pick(mine: _V | None, default: _V | None) -> _V | None:
        return mine if mine is not None else default

    return ReferrerSettings(
        referrers=bool(pick(mapping.referrers, task.referrers)),
        types=pick(mapping.referrer_types, task.referrer_types),
        digest_tags=bool(pick(mapping.digest_tags, task.digest_tags)),
        keys=_referrer_keys(mapping),
    )


def _join(prefix: str, path: str) -> str:
    """`path` under a registry's path prefix (dregsy concatenates `registry` and `/path`)."""
    return f"{prefix}/{path.strip('/')}" if prefix else path


def _lister(model: ConfigModel) -> ListerSettings:
    # As in dregsy: 0 means "not set"; a negative maxItems is unlimited, a negative
    # cacheDuration turns the cache off.
    if model.lister is None:
        return _DEFAULT_LISTER
    max_items = model.lister.max_items or _DEFAULT_LISTER.max_items
    cache = model.lister.cache_duration or _DEFAULT_LISTER.cache_duration
    return ListerSettings(
        max_items=-1 if max_items < 0 else max_items,
        cache_duration=None if cache is None or cache < 0 else cache,
    )


def _path(text: str | None, base_dir: Path | None, default: Path) -> Path:
    if text is None:
        return default
    path = Path(text)
    return base_dir / path if base_dir is not None and not path.is_absolute() else path


def _binary(text: str | None, base_dir: Path | None) -> str:
    """A bare name is looked up on PATH; a relative path is relative to the config file."""
    if text is None:
        return "skopeo"
    if "/" not in text:
        return text
    return str(_path(text, base_dir, Path(text)))
