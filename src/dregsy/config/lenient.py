"""What dregsy accepts although its author probably meant something else: warnings.

dregsy's users must be able to point this dregsy at their config unchanged, so a config
that dregsy loads and runs is not refused here either. Where such a config is probably not
what its author meant, these checks say so, once, when it is loaded (the CLI logs them at
warning level). The warning functions are pure: they read the raw YAML (`data`, after
`${VAR}` expansion) and the validated model, and return `Issue`s.

Also here: `registry: host/path`, which dregsy takes as a prefix of every repository path;
`split_registry_paths` moves the path out of the value before validation.
"""

from __future__ import annotations

import re

from dregsy.config.fields import MIN_AUTH_REFRESH, Problem, check_path, is_nanoseconds
from dregsy.config.issues import Issue, Loc
from dregsy.config.model import ConfigModel, TaskModel
from dregsy.config.resolve import choose_relay, unique_names
from dregsy.config.types import Credentials, RelayKind
from dregsy.duration import parse_duration
from dregsy.selection.filters import TagRef, invented_tag
from dregsy.selection.paths import SourcePattern

_SIDES = ("source", "target")
# dregsy's `keep: latest n` needs white space after `keep:`; `keep:latest 5` is a keep regex
_KEEP_LATEST_NO_SPACE = re.compile(r"keep:latest\s+(\d+)")


def _tasks(data: dict[str, object]) -> list[tuple[int, dict[str, object]]]:
    tasks = data.get("tasks")
    return [
        (i, task)
        for i, task in enumerate(tasks if isinstance(tasks, list) else [])
        if isinstance(task, dict)
    ]


def split_registry_paths(data: dict[str, object]) -> tuple[dict[Loc, str], list[Issue]]:
    """Move the path of each `registry: host[:port]/path` out of the value (in place).

    Returns the paths by location (`("tasks", 0, "source")`) and the problems: a path that
    is not a valid repository path."""
    prefixes: dict[Loc, str] = {}
    issues: list[Issue] = []
    for i, task in _tasks(data):
        for side in _SIDES:
            location = task.get(side)
            value = location.get("registry") if isinstance(location, dict) else None
            if not isinstance(value, str):
                continue
            scheme, sep, rest = value.strip().partition("://")
            if not sep:
                scheme, rest = "", value.strip()
            host, _, path = rest.partition("/")
            path = path.strip("/")
            if not path:
                continue
            assert isinstance(location, dict)
            location["registry"] = f"{scheme}{sep}{host}"
            try:
                check_path(path)
            except Problem as problem:
                loc: Loc = ("tasks", i, side, "registry")
                issues.append(Issue(loc, f"the path after the host: {problem.message}"))
                continue
            prefixes[("tasks", i, side)] = path
    return prefixes, issues


def prefix_problems(model: ConfigModel, prefixes: dict[Loc, str]) -> list[Issue]:
    """A source registry with a path cannot list repositories for regex mappings."""
    issues = []
    for i, task in enumerate(model.tasks or ()):
        if ("tasks", i, "source") in prefixes and _has_regex(task):
            message = (
                "has a path, and a mapping's 'from' is a regex: the repository list covers "
                "the whole registry; write the path into the 'from' regex instead"
            )
            issues.append(Issue(("tasks", i, "source", "registry"), message))
    return issues


def config_warnings(data: dict[str, object], model: ConfigModel) -> list[Issue]:
    """Every warning about a valid config, in no particular order."""
    return [
        *unused_relay_settings(model),
        *nothing_to_do(data, model),
        *repeated_names(model),
        *missing_passwords(model),
        *unused_index_listers(model),
        *short_durations(data),
        *keep_latest_without_space(data),
        *invented_tags(model),
    ]


def unused_relay_settings(model: ConfigModel) -> list[Issue]:
    """Settings of a relay that does not run: dregsy ignores them, and so does this."""
    relay, reason, _ = choose_relay(model)
    unused = f"the relay is {relay} ({reason}): ignored, as dregsy ignores it"
    issues = []
    if relay is not RelayKind.DOCKER:
        for key, given in (("docker", model.docker), ("api-version", model.api_version)):
            if given is not None:
                issues.append(Issue((key,), f"is a setting of the docker relay, but {unused}"))
    if relay is not RelayKind.SKOPEO and model.skopeo is not None:
        issues.append(Issue(("skopeo",), f"is a setting of the skopeo relay, but {unused}"))
    return issues


def nothing_to_do(data: dict[str, object], model: ConfigModel) -> list[Issue]:
    """No tasks, or tasks without mappings: loaded, and nothing is synced."""
    if "tasks" not in data:
        return [Issue((), "there is no 'tasks' list: nothing will be synced")]
    if not model.tasks:
        return [Issue(("tasks",), "is empty: nothing will be synced")]
    raw = dict(_tasks(data))
    return [
        Issue(
            ("tasks", i, "mappings") if "mappings" in raw.get(i, {}) else ("tasks", i),
            f"task '{task.name}' has no mappings: it syncs nothing",
        )
        for i, task in enumerate(model.tasks)
        if not task.mappings
    ]


def repeated_names(model: ConfigModel) -> list[Issue]:
    """Task names given twice: dregsy runs both; logs tell them apart by a label."""
    tasks = model.tasks or ()
    labels = unique_names([task.name for task in tasks])
    first: dict[str, int] = {}
    issues = []
    for i, (task, label) in enumerate(zip(tasks, labels, strict=True)):
        if task.name in first:
            message = (
                f"task name '{task.name}' is also used by tasks[{first[task.name]}]: "
                f"this task is '{label}' in the log"
            )
            issues.append(Issue(("tasks", i, "name"), message))
        first.setdefault(task.name, i)
    return issues


def missing_passwords(model: ConfigModel) -> list[Issue]:
    """`auth` with a username and no password: dregsy sends an empty password."""
    issues = []
    for i, task in enumerate(model.tasks or ()):
        for side, location in zip(_SIDES, (task.source, task.target), strict=True):
            if isinstance(location.auth, Credentials) and not location.auth.password:
                message = "has a username but no password: an empty password is sent"
                issues.append(Issue(("tasks", i, side, "auth"), message))
    return issues


def unused_index_listers(model: ConfigModel) -> list[Issue]:
    """An `index` lister without `search` is an error only when a regex mapping uses it."""
    issues = []
    for i, task in enumerate(model.tasks or ()):
        lister = task.source.lister
        if lister and lister.type == "index" and lister.search is None and not _has_regex(task):
            message = (
                "type 'index' needs 'search' to list anything; no mapping's 'from' is a "
                "regex, so it is not used"
            )
            issues.append(Issue(("tasks", i, "source", "lister"), message))
    return issues


def _has_regex(task: TaskModel) -> bool:
    return any(isinstance(m.from_, SourcePattern) for m in task.mappings or ())


def short_durations(data: dict[str, object]) -> list[Issue]:
    """Durations written as plain numbers, which dregsy reads as nanoseconds."""
    issues = []
    lister = data.get("lister")
    cache = lister.get("cacheDuration") if isinstance(lister, dict) else None
    if is_nanoseconds(cache) and isinstance(cache, int) and cache > 0:
        message = (
            f"{cache} has no unit, so it is {cache} nanoseconds, as dregsy reads it: the "
            f"repository list is not reused; write '{cache}s' for {_seconds(cache)}"
        )
        issues.append(Issue(("lister", "cacheDuration"), message))
    for i, task in _tasks(data):
        for side in _SIDES:
            location = task.get(side)
            refresh = location.get("auth-refresh") if isinstance(location, dict) else None
            loc: Loc = ("tasks", i, side, "auth-refresh")
            floor = f"raised to {MIN_AUTH_REFRESH:g} s, the shortest renewal interval"
            if is_nanoseconds(refresh) and isinstance(refresh, int) and refresh >= 0:
                message = (
                    f"{refresh} has no unit, so it is {refresh} nanoseconds, as dregsy reads "
                    f"it: {floor}"
                )
                if refresh:
                    message += f"; write '{refresh}s' for {_seconds(refresh)}"
                issues.append(Issue(loc, message))
            elif isinstance(refresh, str) and 0 <= _duration(refresh) < MIN_AUTH_REFRESH:
                issues.append(Issue(loc, f"'{refresh.strip()}' is {floor}"))
    return issues


def _duration(text: str) -> float:
    try:
        return parse_duration(text.strip())
    except ValueError:
        return -1.0  # reported as an error by validation


def _seconds(count: int) -> str:
    """`36000` seconds in words: `10h`."""
    hours, rest = divmod(count, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    return "".join(parts) or "0s"


def keep_latest_without_space(data: dict[str, object]) -> list[Issue]:
    """`keep:latest 5` is not dregsy's `keep: latest 5` (that needs a space after `keep:`)."""
    issues = []
    for i, task in _tasks(data):
        mappings = task.get("mappings")
        for j, mapping in enumerate(mappings if isinstance(mappings, list) else []):
            tags = mapping.get("tags") if isinstance(mapping, dict) else None
            for k, entry in enumerate(tags if isinstance(tags, list) else []):
                match = (
                    _KEEP_LATEST_NO_SPACE.fullmatch(entry.strip())
                    if isinstance(entry, str)
                    else None
                )
                if match is None:
                    continue
                text = entry.strip()
                message = (
                    f"'{text}' is, as in dregsy, a keep regex that only a tag named "
                    f"'{text.removeprefix('keep:')}' matches: every listed tag is pruned and "
                    f"only verbatim tags stay; for the {match.group(1)} newest versions write "
                    f"'keep: latest {match.group(1)}'"
                )
                issues.append(Issue(("tasks", i, "mappings", j, "tags", k), message))
    return issues


def invented_tags(model: ConfigModel) -> list[Issue]:
    """Digests without a tag with the Docker relay: pushed as tag `dregsy-<hex>`."""
    if choose_relay(model)[0] is not RelayKind.DOCKER:
        return []
    issues = []
    for i, task in enumerate(model.tasks or ()):
        for j, mapping in enumerate(task.mappings or ()):
            for k, entry in enumerate(mapping.tags or ()):
                if isinstance(entry, TagRef) and entry.tag is None and entry.digest:
                    message = (
                        "a digest without a tag: the Docker daemon pushes by tag only, so the "
                        f"target gets the tag '{invented_tag(entry.digest)}', as with dregsy; "
                        "write '<tag>@sha256:...' to choose the tag"
                    )
                    issues.append(Issue(("tasks", i, "mappings", j, "tags", k), message))
    return issues
