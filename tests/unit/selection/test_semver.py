"""Semantic versions and ranges, as blang/semver v4 (dregsy's library) reads them."""

from __future__ import annotations

import pytest

from dregsy.selection.semrange import parse_range
from dregsy.selection.semver import SemverError, Version, parse, tag_version

TOLERANT: list[tuple[str, tuple[int, int, int, tuple[object, ...]] | None]] = [
    ("v1.0.0", (1, 0, 0, ())),
    ("1.2.3", (1, 2, 3, ())),
    ("2.1", (2, 1, 0, ())),
    ("v2", (2, 0, 0, ())),
    ("1", (1, 0, 0, ())),
    ("20230101", (20230101, 0, 0, ())),
    ("v2.0.0-rc1", (2, 0, 0, ("rc1",))),
    ("1.2.3-alpine", (1, 2, 3, ("alpine",))),
    ("1.2.3-beta.11", (1, 2, 3, ("beta", 11))),
    ("1.2.3+build.5", (1, 2, 3, ())),
    ("01.02.03", (1, 2, 3, ())),
    ("1.2.03-rc", (1, 2, 3, ("rc",))),
    (" v1.0.0 ", (1, 0, 0, ())),
    ("latest", None),
    ("foo", None),
    ("2.1-rc1", None),  # a short version may not carry a suffix
    ("1.2.3_x", None),
    ("1.2.3.4", None),
    ("V1.0.0", None),  # only a lower-case v is dropped
    ("vv1.0.0", None),
    ("1.0.0-01", None),  # numeric pre-release with a leading zero
    ("1.0.0-", None),
    ("1.0.0+", None),
    ("sha256:" + "a" * 64, None),
    ("", None),
]


@pytest.mark.parametrize(("tag", "expected"), TOLERANT, ids=[t[0] or "empty" for t in TOLERANT])
def test_tags_are_read_tolerantly(
    tag: str, expected: tuple[int, int, int, tuple[object, ...]] | None
) -> None:
    version = tag_version(tag)
    got = None if version is None else (version.major, version.minor, version.patch, version.pre)
    assert got == expected


ASCENDING = [  # semver.org's precedence example, plus build metadata and big numbers
    "0.9.0",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.2.0",
    "1.10.0",
    "10.0.0",
]


def test_precedence_orders_prereleases_before_their_release() -> None:
    versions = [parse(text) for text in reversed(ASCENDING)]
    assert [str(v) for v in sorted(versions, key=lambda v: v.key)] == ASCENDING


def test_build_metadata_does_not_count() -> None:
    assert parse("1.0.0+a").compare(parse("1.0.0+b")) == 0
    assert parse("1.0.0+a") == parse("1.0.0")


@pytest.mark.parametrize(
    "text", ["1.2", "v1.2.3", "1.2.3.4", "01.2.3", "1.2.x", "1.2.3-", "a.b.c", "1.2.-3"]
)
def test_strict_parse_rejects(text: str) -> None:
    with pytest.raises(SemverError):
        parse(text)


RANGES = [
    (">=1.2.0 <2.0.0", {"1.2.0": True, "1.9.9": True, "2.0.0": False, "1.1.9": False}),
    # blang (unlike npm) lets pre-releases into ranges: 2.0.0-rc1 < 2.0.0
    (">=1.2.0 <2.0.0", {"2.0.0-rc1": True, "1.2.0-rc1": False}),
    ("<2.0.0 || >=3.0.0", {"1.5.0": True, "2.5.0": False, "3.0.0": True}),
    (">1.0.0 <2.0.0 || >3.0.0 !4.2.1", {"1.2.3": True, "4.2.1": False, "2.1.1": False}),
    ("1.2.3", {"1.2.3": True, "1.2.4": False}),
    ("=1.2.3", {"1.2.3": True}),
    ("==1.2.3", {"1.2.3": True}),
    ("!1.2.3", {"1.2.3": False, "1.2.4": True}),
    ("!=1.2.3", {"1.2.3": False}),
    (">= 1.2.0", {"1.2.0": True, "1.1.0": False}),  # a space after the operator is fine
    ("<=1.2.3", {"1.2.3": True, "1.2.4": False}),
    (">1.2.3", {"1.2.3": False, "1.2.4": True}),
    ("1.2.x", {"1.2.0": True, "1.2.9": True, "1.3.0": False, "1.1.9": False}),
    ("1.x", {"1.0.0": True, "1.9.0": True, "2.0.0": False}),
    (">1.x", {"1.9.0": False, "2.0.0": True}),
    ("<=1.2.x", {"1.2.9": True, "1.3.0": False}),
    ("<1.2.x", {"1.1.9": True, "1.2.0": False}),
    # blang expands this to "<1.2.0 >=1.3.0", ANDed, so it never matches (kept as in dregsy)
    ("!=1.2.x", {"1.1.0": False, "1.2.5": False, "1.3.0": False}),
    ("1.0.0 - 2.0.0", {"1.5.0": False, "1.0.0": False}),  # blang drops the lone "-"
]


@pytest.mark.parametrize(
    ("text", "cases"), RANGES, ids=[f"{i}:{r[0]}" for i, r in enumerate(RANGES)]
)
def test_ranges(text: str, cases: dict[str, bool]) -> None:
    semver_range = parse_range(text)
    got = {version: semver_range.matches(parse(version)) for version in cases}
    assert got == cases


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (">=1.2", "could not parse version '1.2'"),
        (">=v1.2.0", "comparator '>=v'"),
        ("~1.2.3", "comparator '~'"),
        ("^1.2.3", "comparator '^'"),
        ("latest", "could not get version"),
        ("", "empty"),
        ("   ", "empty"),
        ("|| 1.0.0", "first element"),
        ("1.0.0 ||", "last element"),
        (">=1.0.0-01", "leading zeroes"),
    ],
)
def test_bad_ranges(text: str, fragment: str) -> None:
    with pytest.raises(SemverError) as info:
        parse_range(text)
    assert fragment in str(info.value)


def test_version_str_round_trips() -> None:
    assert str(parse("1.2.3-rc.1+b.7")) == "1.2.3-rc.1+b.7"
    assert Version(1, 2, 3).compare(Version(1, 2, 3, ("a",))) == 1
