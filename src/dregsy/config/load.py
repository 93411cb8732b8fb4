"""Loading a config file: YAML with line numbers, strict validation, then resolution.

`parse_config` is pure; `load_config` adds the file reading. Either raises ConfigError
carrying every problem found, each with its key path (`tasks[1].source.registry`), its
1-based line, and one plain sentence. No message ever contains an `auth` value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from msgspec.structs import replace

from dregsy.config.external import expand_variables, read_auth_files
from dregsy.config.fields import Problem
from dregsy.config.issues import Issue, Loc, format_path, line_of
from dregsy.config.lenient import config_warnings, prefix_problems, split_registry_paths
from dregsy.config.model import TOP_KEYS, check_config, check_top
from dregsy.config.resolve import build, cross_check
from dregsy.config.schema import Invalid
from dregsy.config.types import Config
from dregsy.config.yamlpos import read_yaml
from dregsy.errors import ConfigError, ConfigProblem
from dregsy.fileread import FileReadError, read_limited

_M = TypeVar("_M")

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a config file is text: a few KiB, rarely more

# `api-version: 1.41` is a YAML float, but dregsy (yaml.v2 into a string) reads it as text.
_VERSION_KEYS: tuple[Loc, ...] = (("api-version",), ("docker", "api-version"))


def load_config(path: Path) -> Config:
    """Read and parse the config file at `path`; relative paths in it are relative to it."""
    try:
        data = read_limited(path, MAX_CONFIG_BYTES)
    except FileReadError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.reason}") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot read config file {path}: {reason}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = ConfigProblem("", f"config file {path} is not valid UTF-8", line)
        raise ConfigError(problem) from None
    return parse_config(text, base_dir=path.absolute().parent, env=os.environ)


def parse_config(
    text: str, *, base_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Parse config text; `base_dir` anchors relative paths (certs dirs, skopeo binary,
    `auth-file`); `${VAR}` references are expanded from `env` (none set when None)."""
    doc = read_yaml(text)
    if doc.data is None:
        raise ConfigError(ConfigProblem("", "the file is empty; it needs at least 'tasks'", 1))
    if not isinstance(doc.data, dict):
        message = "the file must be a mapping of keys to values at the top, such as 'tasks:'"
        raise ConfigError(ConfigProblem("", message, doc.lines.get(())))
    data: dict[str, object] = doc.data
    external = expand_variables(doc, env or {})
    external += read_auth_files(data, base_dir)
    for loc in _VERSION_KEYS:
        _number_as_text(data, loc, doc.texts)
    _tags_as_text(data, doc.texts)
    prefixes, path_issues = split_registry_paths(data)

    issues = [*doc.issues, *external, *path_issues]
    model = _validate(check_config, data, issues)
    if model is None:
        issues += _cross_check_parts(data)
    else:
        issues += cross_check(model) + prefix_problems(model, prefixes)
    if issues or model is None:
        # a value whose ${VAR} failed is reported once, not again as (say) "must not be empty"
        unset = {issue.loc for issue in external}
        issues = [i for i in issues if i.loc not in unset or i in external]
        raise ConfigError(_problems(issues, doc.lines))
    config = build(model, base_dir, prefixes)
    return replace(config, warnings=tuple(_problems(config_warnings(data, model), doc.lines)))


def _validate(check: Callable[[object], _M], data: object, issues: list[Issue] | None) -> _M | None:
    """The checked model, or None after adding its problems to `issues` (if given)."""
    try:
        return check(data)
    except Problem as problem:
        if issues is not None:
            issues.append(Issue(() if problem.key is None else (problem.key,), problem.message))
    except Invalid as invalid:
        if issues is not None:
            issues += invalid.issues
    return None


def _cross_check_parts(data: dict[str, object]) -> list[Issue]:
    """Cross-key checks on what is usable, when the file as a whole is not valid."""
    known = {key.name for key in TOP_KEYS}
    top = _validate(check_top, {k: v for k, v in data.items() if k in known}, None)
    return cross_check(top)


def _tags_as_text(data: dict[str, object], texts: dict[Loc, str]) -> None:
    """Tags written as plain numbers (`tags: [3.19, 3.20]`) are the text written, as dregsy's
    YAML reads them: not 3.19 and 3.2."""
    tasks = data.get("tasks")
    for i, task in enumerate(tasks if isinstance(tasks, list) else []):
        mappings = task.get("mappings") if isinstance(task, dict) else None
        for j, mapping in enumerate(mappings if isinstance(mappings, list) else []):
            tags = mapping.get("tags") if isinstance(mapping, dict) else None
            for k in range(len(tags) if isinstance(tags, list) else 0):
                _number_as_text(data, ("tasks", i, "mappings", j, "tags", k), texts)


def _number_as_text(data: dict[str, object], loc: Loc, texts: dict[Loc, str]) -> None:
    parent: object = data
    for key in loc[:-1]:
        if isinstance(parent, dict):
            parent = parent.get(key)
        elif isinstance(parent, list) and isinstance(key, int) and key < len(parent):
            parent = parent[key]
        else:
            return
    last = loc[-1]
    if isinstance(parent, dict):
        value = parent.get(last)
    elif isinstance(parent, list) and isinstance(last, int):
        value = parent[last]
    else:
        return
    if isinstance(value, int | float) and not isinstance(value, bool) and loc in texts:
        parent[last] = texts[loc]  # type: ignore[index]


def _problems(issues: list[Issue], lines: dict[Loc, int]) -> list[ConfigProblem]:
    """ConfigProblems in file order, each once."""
    problems: dict[tuple[str, str], ConfigProblem] = {}
    for issue in issues:
        line = issue.line if issue.line is not None else line_of(lines, issue.loc)
        path = format_path(issue.loc)
        problems.setdefault((path, issue.message), ConfigProblem(path, issue.message, line))
    return sorted(problems.values(), key=lambda p: p.line if p.line is not None else 0)
