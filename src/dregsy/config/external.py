"""Values from outside the config file: `${VAR}` from the environment, and `auth-file`.

Before validation, every string value is expanded: `${NAME}` is the variable's value,
`${NAME:-default}` the default when it is unset or empty, `$$` a literal `$`; any other `$`
stays as written (so `regex: ^v1$` keeps working), and so does `${1}` (a regex group in a
`to: regex:` replacement; a named group is written `$${name}`). A plain (unquoted) value
that expands to a number or true/false becomes one, as if written so (`interval: ${N}`).
An unset variable without a default is a config problem naming it.

`auth-file: PATH` on a source or target reads `auth` from a file (relative paths are
relative to the config file), e.g. a mounted Kubernetes secret. Messages name variables and
files, never their values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import yaml

from dregsy.config.fields import Problem, parse_auth
from dregsy.config.issues import Issue, Loc
from dregsy.config.yamlpos import Document
from dregsy.fileread import FileReadError, read_limited

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_AUTH_FILE = 64 * 1024


def expand_variables(doc: Document, env: Mapping[str, str]) -> list[Issue]:
    """Expand `${...}` in every string value of `doc.data`, in place."""
    issues: list[Issue] = []

    def walk(value: object, loc: Loc) -> object:
        if isinstance(value, dict):
            for key, item in value.items():
                value[key] = walk(item, (*loc, key))
            return value
        if isinstance(value, list):
            return [walk(item, (*loc, i)) for i, item in enumerate(value)]
        if not isinstance(value, str) or "$" not in value:
            return value
        text, problems = substitute(value, env)
        issues.extend(Issue(loc, message) for message in problems)
        if loc in doc.texts:  # a plain scalar: typed as YAML would type the result
            doc.texts[loc] = text
            return _typed(text)
        return text

    doc.data = walk(doc.data, ())
    return issues


def substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """`text` with its references replaced, and the problems found (no values in them)."""
    out: list[str] = []
    problems: list[str] = []
    i = 0
    while (j := text.find("$", i)) >= 0:
        out.append(text[i:j])
        following = text[j + 1 : j + 2]
        if following == "$":
            out.append("$")
            i = j + 2
            continue
        if following != "{":
            out.append("$")
            i = j + 1
            continue
        end = text.find("}", j + 2)
        if end < 0:
            problems.append("has '${' without a closing '}' (write '$$' for a literal '$')")
            return text, problems
        name, has_default, default = text[j + 2 : end].partition(":-")
        if name.isdigit() and not has_default:
            # `${1}`: a group of a `to: regex:` replacement (Go syntax), not a variable.
            out.append(text[j : end + 1])
            i = end + 1
            continue
        i = end + 1
        if not _NAME_RE.fullmatch(name):
            problems.append("has an invalid reference: write ${NAME} or ${NAME:-default}")
            continue
        value = env.get(name)
        if has_default and not value:
            value = default
        elif value is None:
            problems.append(f"uses the environment variable {name}, which is not set")
            value = ""
        out.append(value)
    out.append(text[i:])
    return "".join(out), problems


def _typed(text: str) -> object:
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, bool | int | float) else text


def read_auth_files(data: dict[str, object], base_dir: Path | None) -> list[Issue]:
    """Replace each location's `auth-file` by the `auth` it holds, in place."""
    issues: list[Issue] = []
    tasks = data.get("tasks")
    for index, task in enumerate(tasks if isinstance(tasks, list) else []):
        for side in ("source", "target"):
            location = task.get(side) if isinstance(task, dict) else None
            if isinstance(location, dict) and "auth-file" in location:
                loc: Loc = ("tasks", index, side, "auth-file")
                issue = _auth_from_file(location, base_dir, loc)
                if issue is not None:
                    issues.append(issue)
    return issues


def _auth_from_file(location: dict[str, object], base_dir: Path | None, loc: Loc) -> Issue | None:
    value = location.pop("auth-file")
    if "auth" in location:
        return Issue(loc, "cannot be used together with 'auth'")
    if not isinstance(value, str) or not value.strip():
        return Issue(loc, "must be the path of a file holding the auth value")
    path = Path(value.strip())
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    try:
        raw = read_limited(path, MAX_AUTH_FILE)
    except FileReadError as exc:
        if exc.reason.startswith("larger"):
            return Issue(loc, f"{path} is larger than 64 KiB; it should hold one auth value")
        return Issue(loc, f"cannot read {path}: {exc.reason}")
    except OSError as exc:
        return Issue(loc, f"cannot read {path}: {exc.strerror or type(exc).__name__}")
    try:
        text = raw.decode("utf-8").strip()
        parse_auth(text)
    except UnicodeDecodeError:
        return Issue(loc, f"{path} is not UTF-8 text")
    except Problem as problem:
        return Issue(loc, f"the content of {path} {problem.message}")
    location["auth"] = text
    return None
