"""Semantic versions as blang/semver v4 (the library dregsy uses) parses and orders them.

`parse` is blang's strict `Parse` (used for the versions inside a range); `parse_tolerant`
is its `ParseTolerant` (used for tags): it trims spaces, drops one leading `v`, strips
leading zeros and fills in a missing minor or patch, so `v1.2`, `1` and `2.1-rc1`... are
read as dregsy reads them (`2.1-rc1` is not: a short version may not carry a suffix).
Build metadata never affects order; a pre-release sorts before its release.
"""

from __future__ import annotations

from msgspec import Struct

_NUMBERS = frozenset("0123456789")
_ALPHANUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-0123456789")
_UINT64_MAX = 2**64 - 1

PreKey = tuple[int, int, str]  # numeric identifiers (0, n, "") sort before alphanumeric (1, 0, s)


class SemverError(ValueError):
    """A string that is not a semantic version (the message says why, as blang does)."""


class Version(Struct, frozen=True):
    """major.minor.patch[-pre][+build]; compare with `key`."""

    major: int
    minor: int
    patch: int
    pre: tuple[str | int, ...] = ()
    build: tuple[str, ...] = ()  # not part of equality or precedence

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return (self.major, self.minor, self.patch, self.pre) == (
            other.major,
            other.minor,
            other.patch,
            other.pre,
        )

    def __hash__(self) -> int:
        return hash((self.major, self.minor, self.patch, self.pre))

    @property
    def key(self) -> tuple[int, int, int, int, tuple[PreKey, ...]]:
        """A sort key with blang's precedence: a release (1) above its pre-releases (0)."""
        pre = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.pre)
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, pre)

    def compare(self, other: Version) -> int:
        """-1, 0 or 1, as blang's `Version.Compare`."""
        mine, theirs = self.key, other.key
        return (mine > theirs) - (mine < theirs)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.pre:
            text += "-" + ".".join(str(p) for p in self.pre)
        if self.build:
            text += "+" + ".".join(self.build)
        return text


def _only(text: str, allowed: frozenset[str]) -> bool:
    return all(c in allowed for c in text)


def _number(text: str, what: str) -> int:
    if not _only(text, _NUMBERS):
        raise SemverError(f"invalid character(s) found in {what} number {text!r}")
    if len(text) > 1 and text[0] == "0":
        raise SemverError(f"{what} number must not contain leading zeroes {text!r}")
    if not text or int(text) > _UINT64_MAX:
        raise SemverError(f"invalid {what} number {text!r}")
    return int(text)


def _pre_release(text: str) -> str | int:
    if not text:
        raise SemverError("prerelease is empty")
    if _only(text, _NUMBERS):
        if len(text) > 1 and text[0] == "0":
            raise SemverError(
                f"numeric prerelease version must not contain leading zeroes {text!r}"
            )
        if int(text) > _UINT64_MAX:
            raise SemverError(f"prerelease number {text!r} is too large")
        return int(text)
    if _only(text, _ALPHANUM):
        return text
    raise SemverError(f"invalid character(s) found in prerelease {text!r}")


def parse(text: str) -> Version:
    """blang's strict `Parse`: exactly major.minor.patch, optional -pre and +build."""
    if not text:
        raise SemverError("version string empty")
    parts = text.split(".", 2)
    if len(parts) != 3:
        raise SemverError("no Major.Minor.Patch elements found")
    major = _number(parts[0], "major")
    minor = _number(parts[1], "minor")
    patch_text, build_sep, build_text = parts[2].partition("+")
    patch_text, pre_sep, pre_text = patch_text.partition("-")
    patch = _number(patch_text, "patch")
    pre = tuple(_pre_release(p) for p in pre_text.split(".")) if pre_sep else ()
    build = tuple(build_text.split(".")) if build_sep else ()
    for item in build:
        if not item:
            raise SemverError("build meta data is empty")
        if not _only(item, _ALPHANUM):
            raise SemverError(f"invalid character(s) found in build meta data {item!r}")
    return Version(major, minor, patch, pre, build)


def parse_tolerant(text: str) -> Version:
    """blang's `ParseTolerant`, the reading dregsy gives every tag."""
    text = text.strip()
    text = text.removeprefix("v")
    parts = text.split(".", 2)
    for i, part in enumerate(parts):
        if len(part) > 1:
            part = part.lstrip("0")
            if not part or part[0] not in _NUMBERS:
                part = "0" + part
            parts[i] = part
    if len(parts) < 3:
        if any(c in "+-" for c in parts[-1]):
            raise SemverError("short version cannot contain PreRelease/Build meta data")
        parts += ["0"] * (3 - len(parts))
    return parse(".".join(parts))


def tag_version(tag: str) -> Version | None:
    """The version a tag names, or None if it is not one (e.g. `latest`)."""
    try:
        return parse_tolerant(tag)
    except SemverError:
        return None
