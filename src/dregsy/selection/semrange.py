"""Version ranges in blang/semver v4 syntax, parsed exactly as dregsy's library parses them.

`>=1.2.0 <2.0.0` (space: AND), `<1.0.0 || >=3.0.0` (OR, lower precedence), operators
`< <= > >= = == ! !=` (none: equal), and `x` wildcards (`1.2.x`, `>1.x`). Versions inside
a range are strict: `>=1.2` or `>=v1.2.0` are errors, as in dregsy. blang's quirks are
kept (a one-character token is dropped; a space after an operator is allowed).
"""

from __future__ import annotations

from collections.abc import Callable

from msgspec import Struct

from dregsy.selection.semver import SemverError, Version, parse

_COMPARATORS: dict[str, Callable[[int], bool]] = {
    "": lambda c: c == 0,
    "=": lambda c: c == 0,
    "==": lambda c: c == 0,
    "!": lambda c: c != 0,
    "!=": lambda c: c != 0,
    ">": lambda c: c == 1,
    ">=": lambda c: c >= 0,
    "<": lambda c: c == -1,
    "<=": lambda c: c <= 0,
}
_NO_SPLIT_AFTER = frozenset("<>=")


class Comparison(Struct, frozen=True):
    """One `op version` term."""

    op: str
    version: Version

    def matches(self, version: Version) -> bool:
        return _COMPARATORS[self.op](version.compare(self.version))


class SemverRange(Struct, frozen=True):
    """OR of ANDs of comparisons; `text` is the range as written."""

    text: str
    alternatives: tuple[tuple[Comparison, ...], ...]

    def matches(self, version: Version) -> bool:
        return any(all(c.matches(version) for c in terms) for terms in self.alternatives)


def parse_range(text: str) -> SemverRange:
    """Parse a range; raises SemverError with blang's reason."""
    or_parts = _split_or(_split_and_trim(text))
    alternatives = []
    for terms in _expand_wildcards(or_parts):
        comparisons = []
        for term in terms:
            op, version_text = _split_comparator(term)
            if op not in _COMPARATORS:
                raise SemverError(f"could not parse comparator {op!r} in {term!r}")
            try:
                version = parse(version_text)
            except SemverError as exc:
                message = f"could not parse version {version_text!r} in {term!r}: {exc}"
                raise SemverError(message) from None
            comparisons.append(Comparison(op, version))
        alternatives.append(tuple(comparisons))
    return SemverRange(text.strip(), tuple(alternatives))


def _split_and_trim(text: str) -> list[str]:
    """blang's splitAndTrim: split on spaces, except after `<`, `>` or `=`."""
    result = []
    last = 0
    last_char = ""
    for i, char in enumerate(text):
        if char == " " and last_char not in _NO_SPLIT_AFTER:
            if last < i - 1:
                result.append(text[last:i])
            last = i + 1
        elif char != " ":
            last_char = char
    if last < len(text) - 1:
        result.append(text[last:])
    return [part.replace(" ", "") for part in result]


def _split_or(parts: list[str]) -> list[list[str]]:
    groups = []
    last = 0
    for i, part in enumerate(parts):
        if part == "||":
            if i == 0:
                raise SemverError("first element in range is '||'")
            groups.append(parts[last:i])
            last = i + 1
    if last == len(parts):
        raise SemverError("last element in range is '||'" if parts else "the range is empty")
    groups.append(parts[last:])
    return groups


def _split_comparator(term: str) -> tuple[str, str]:
    for i, char in enumerate(term):
        if char.isdecimal():
            return term[:i].strip(), term[i:]
    raise SemverError(f"could not get version from string {term!r}")


def _expand_wildcards(groups: list[list[str]]) -> list[list[str]]:
    """blang's expandWildcardVersion: `1.2.x` and `1.x` become plain comparisons."""
    expanded = []
    for terms in groups:
        new_terms: list[str] = []
        for term in terms:
            if "x" in term:
                term = _expand_one(term, new_terms)
            new_terms.append(term)
        expanded.append(new_terms)
    return expanded


def _expand_one(term: str, new_terms: list[str]) -> str:
    op, version = _split_comparator(term)
    parts = version.split(".")
    wildcard = len(parts) if parts[-1] == "x" and len(parts) in (2, 3) else 0
    flat = version.replace(".x.x", ".x", 1).replace(".x", ".0", 1)
    if len(flat.split(".")) == 2:
        flat += ".0"
    increment = False
    result_op = ""
    if op == ">":
        result_op, increment = ">=", True
    elif op == ">=":
        result_op = ">="
    elif op == "<":
        result_op = "<"
    elif op == "<=":
        result_op, increment = "<", True
    elif op in ("", "=", "=="):
        new_terms.append(">=" + flat)
        result_op, increment = "<", True
    elif op in ("!=", "!"):
        new_terms.append("<" + flat)
        result_op, increment = ">=", True
    if not increment:
        return result_op + flat
    return result_op + _increment(flat, 1 if wildcard == 3 else 0 if wildcard == 2 else -1)


def _increment(version: str, index: int) -> str:
    """Bump part `index` (0 major, 1 minor); blang yields "" when it cannot."""
    if index < 0:
        return ""
    parts = version.split(".")
    try:
        parts[index] = str(int(parts[index]) + 1)
    except (ValueError, IndexError):
        return ""
    return ".".join(parts)
