"""Checking parsed YAML against declared keys: the strict rules every config section follows.

A section is a tuple of `Key`s. `check_mapping` reports unknown keys (with a did-you-mean
hint), missing required keys, and the problems of each value's parser, and collects them
all rather than stopping at the first. Parsers take the raw YAML value and return the
checked value; they raise `Problem` (one finished sentence, optionally about a sub-key) or
`Invalid` (several issues at paths relative to the value). Scalars are strict: no `true`
for a number, no `"no"` for false, no number for a string.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from msgspec import Struct

from dregsy.config.fields import Problem, kind_of
from dregsy.config.issues import Issue, Loc

_T = TypeVar("_T")
Parser = Callable[[object], Any]

_MAPPING = "a mapping of keys to values"


class Invalid(Exception):
    """A value with problems; each issue's path is relative to that value."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__(f"{len(issues)} problems")
        self.issues = issues


class Key(Struct, frozen=True):
    """One key a section accepts: its YAML name, the attribute it fills, and its parser.

    An optional key without a default (`default=None`) takes an empty value as not given;
    keys that are required or have another default pass an empty value to the parser.
    """

    name: str
    parse: Parser
    field: str = ""
    required: bool = False
    default: object = None

    @property
    def attribute(self) -> str:
        return self.field or self.name.replace("-", "_")


def expected(value: object, what: str) -> Problem:
    """The problem of a value of the wrong type, where `what` says what it must be."""
    if value is None:
        return Problem(f"has no value; it must be {what}")
    return Problem(f"must be {what}, not {kind_of(value)}")


def text(value: object) -> str:
    """A string, stripped, that is not empty."""
    if not isinstance(value, str):
        problem = expected(value, "a string")
        if isinstance(value, int | float):
            problem = Problem(f"{problem.message} (put it in quotes)")
        raise problem
    if not value.strip():
        raise Problem("must not be empty")
    return value.strip()


def boolean(value: object) -> bool:
    """`true` or `false`, nothing that merely reads like one."""
    if not isinstance(value, bool):
        raise expected(value, "true or false")
    return value


def integer(low: int | None = None, high: int | None = None) -> Callable[[object], int]:
    """A parser of whole numbers (not true/false, not 1.0) within the given bounds."""

    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise expected(value, "a whole number")
        if low is not None and value < low:
            raise Problem(f"must be greater than or equal to {low}")
        if high is not None and value > high:
            raise Problem(f"must be less than or equal to {high}")
        return value

    return parse


def one_of(*choices: str) -> Callable[[object], str]:
    """A parser accepting exactly one of `choices`."""
    quoted = [repr(choice) for choice in choices]
    listed = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]

    def parse(value: object) -> str:
        if isinstance(value, str) and value in choices:
            return value
        raise Problem(f"must be one of {listed}")

    return parse


def list_of(
    item: Callable[[object], _T], *, non_empty: bool = False
) -> Callable[[object], tuple[_T, ...]]:
    """A parser of lists whose items `item` parses; every item's problems are reported."""

    def parse(value: object) -> tuple[_T, ...]:
        if not isinstance(value, list):
            raise expected(value, "a list")
        issues: list[Issue] = []
        items = [_checked(item, entry, (index,), issues) for index, entry in enumerate(value)]
        if issues:
            raise Invalid(issues)
        if non_empty and not items:
            raise Problem("must not be empty")
        return tuple(cast(list[_T], items))

    return parse


def check_mapping(data: object, keys: Sequence[Key]) -> dict[str, Any]:
    """The parsed value of every key (by attribute), defaults filled in; raises `Invalid`
    (or `Problem` when `data` is not a mapping).

    Problems come in a fixed order: keys in declared order, then unknown keys in
    file order. A missing key that an unknown key's hint names (`form:` → did you mean
    'from'?) is not reported again as "is required".
    """
    if not isinstance(data, dict):
        raise expected(data, _MAPPING)
    known = {key.name: key for key in keys}
    unknown = [name for name in data if name not in known]
    hints = {name: suggest(name, list(known)) for name in unknown}
    issues: list[Issue] = []
    values: dict[str, Any] = {}
    for key in keys:
        if key.name not in data:
            if key.required and key.name not in hints.values():
                issues.append(Issue((key.name,), "is required"))
            values[key.attribute] = key.default
            continue
        raw = data[key.name]
        nullable = not key.required and key.default is None
        if raw is None and nullable:
            values[key.attribute] = None
            continue
        values[key.attribute] = _checked(key.parse, raw, (key.name,), issues)
    for name in unknown:
        hint = hints[name]
        message = f"unknown key '{name}'"
        issues.append(
            Issue((name,), message if hint is None else f"{message} (did you mean '{hint}'?)")
        )
    if issues:
        raise Invalid(issues)
    return values


def suggest(name: str, known: list[str]) -> str | None:
    """The known key closest to the unknown key `name`, if any is close."""
    for candidate in (name, name.lower(), name.replace("_", "-").lower()):
        close = difflib.get_close_matches(candidate, known, n=1, cutoff=0.6)
        if close:
            return close[0]
    return None


def _checked(
    parse: Callable[[object], _T], value: object, loc: Loc, issues: list[Issue]
) -> _T | None:
    """`parse(value)`, or None after adding its problems (under `loc`) to `issues`."""
    try:
        return parse(value)
    except Problem as problem:
        issues.append(Issue(loc if problem.key is None else (*loc, problem.key), problem.message))
    except Invalid as invalid:
        issues.extend(
            Issue((*loc, *issue.loc), issue.message, issue.line) for issue in invalid.issues
        )
    return None
