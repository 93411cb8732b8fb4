"""Config issues: what is wrong, at which key path, before it becomes a ConfigProblem."""

from __future__ import annotations

from msgspec import Struct

Loc = tuple[str | int, ...]  # a key path, e.g. ("tasks", 1, "source", "registry")


class Issue(Struct, frozen=True):
    """One problem at a key path; `line` only when it is not the line of `loc` itself."""

    loc: Loc
    message: str
    line: int | None = None


def format_path(loc: Loc) -> str:
    """`("tasks", 1, "source", "registry")` → `tasks[1].source.registry`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of `loc`, or of its nearest enclosing key or item that the file has."""
    while loc not in lines and loc:
        loc = loc[:-1]
    return lines.get(loc)
