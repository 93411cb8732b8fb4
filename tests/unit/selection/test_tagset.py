"""Tag selection: dregsy's `TagSet.Expand`, entry by entry and combined."""

from __future__ import annotations

import pytest

from dregsy.selection.filters import TagEntryError, TagRef, parse_entry
from dregsy.selection.tagset import EVERY_TAG, TagSelection

LISTED = ["v1.0.0", "v1.2.3", "v2.0.0-rc1", "2.1", "latest", "foo"]
D1 = "sha256:" + "a" * 64
D2 = "sha256:" + "b" * 64

CASES: list[tuple[str, list[str], list[str], list[str]]] = [
    # (id, entries, listed, expected tags in order)
    ("empty-is-every-tag", [], LISTED, ["2.1", "foo", "latest", "v1.0.0", "v1.2.3", "v2.0.0-rc1"]),
    ("verbatim", ["v1.0.0", "missing"], LISTED, ["missing", "v1.0.0"]),
    (
        "semver-range-with-prerelease",
        ["semver: >=1.2.0 <2.0.0 || >=2.1.0"],
        LISTED,
        ["2.1", "v1.2.3", "v2.0.0-rc1"],
    ),
    ("semver-prerelease-below-release", ["semver: >=2.0.0"], LISTED, ["2.1"]),
    ("semver-skips-non-semver", ["semver: >=0.0.0"], ["latest", "1.0"], ["1.0"]),
    ("regex-anchored", ["regex: v1"], LISTED, []),
    ("regex", ["regex: v1\\..*"], LISTED, ["v1.0.0", "v1.2.3"]),
    ("regex-inverted", ["regex: !v.*"], LISTED, ["2.1", "foo", "latest"]),
    ("entries-are-ored", ["regex: v1.*", "regex: f.*"], LISTED, ["foo", "v1.0.0", "v1.2.3"]),
    ("semver-or-regex", ["semver: >=2.1.0", "regex: l.*"], LISTED, ["2.1", "latest"]),
    (
        "keep-only-prunes-every-tag",
        ["keep: !latest"],
        LISTED,
        ["2.1", "foo", "v1.0.0", "v1.2.3", "v2.0.0-rc1"],
    ),
    (
        "every-keep-must-match",
        ["regex: .*", "keep: !latest", "keep: .*[0-9].*"],
        LISTED,
        ["2.1", "v1.0.0", "v1.2.3", "v2.0.0-rc1"],
    ),
    (
        "keep-never-prunes-verbatim",
        ["foo", "regex: v1.*", "keep: .*\\.3"],
        LISTED,
        ["foo", "v1.2.3"],
    ),
    (
        "latest-n-keeps-non-semver",
        ["keep: latest 2"],
        LISTED,
        ["2.1", "foo", "latest", "v2.0.0-rc1"],
    ),
    (
        "latest-n-prereleases",
        ["keep: latest 2"],
        ["1.0.0-rc.1", "1.0.0-beta.11", "1.0.0-beta.2", "0.9.0", "1.0.0-alpha"],
        ["1.0.0-beta.11", "1.0.0-rc.1"],
    ),
    ("latest-n-more-than-there-are", ["keep: latest 10"], ["v2", "v1"], ["v1", "v2"]),
    ("latest-n-no-semver-string-sort", ["keep: latest 2"], ["b", "a", "c"], ["b", "c"]),
    (
        "latest-n-counts-verbatim",
        ["1.0.0", "semver: >=2.0.0", "keep: latest 2"],
        ["2.0.0", "2.1.0", "3.0.0", "1.0.0"],
        ["2.1.0", "3.0.0"],
    ),
    (
        "latest-n-last-wins",
        ["keep: latest 1", "keep: latest 3"],
        ["1", "2", "3", "4"],
        ["2", "3", "4"],
    ),
    ("latest-0-is-no-limit", ["keep: latest 0"], ["1", "2"], ["1", "2"]),
    ("latest-n-tie-is-deterministic", ["keep: latest 1"], ["1.0", "v1.0.0"], ["v1.0.0"]),
    ("verbatim-and-listed-once", ["v1.0.0", "regex: v1.*"], LISTED, ["v1.0.0", "v1.2.3"]),
    ("no-tags-listed", ["regex: .*"], [], []),
]


@pytest.mark.parametrize(
    ("entries", "listed", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_selection(entries: list[str], listed: list[str], expected: list[str]) -> None:
    selection = TagSelection.parse(entries)
    got = selection.select(listed if selection.needs_listing else None)
    assert [ref.text for ref in got] == expected
    assert all(ref.tag == ref.text and ref.digest is None for ref in got)


@pytest.mark.parametrize(
    ("entries", "needs"),
    [
        ([], True),
        (["v1"], False),
        ([D1, f"v1@{D2}"], False),
        (["keep: v.*"], True),
        (["keep: latest 2"], True),
        (["v1", "keep: v.*"], False),
        (["v1", "semver: >=1.0.0"], True),
        (["v1", "regex: v.*"], True),
    ],
)
def test_tags_are_listed_only_when_needed(entries: list[str], needs: bool) -> None:
    assert TagSelection.parse(entries).needs_listing is needs


def test_digests_are_verbatim_entries() -> None:
    got = TagSelection.parse([D1, f"v9@{D2}"]).select(None)
    assert got == [TagRef(D1, digest=D1), TagRef(f"v9@{D2}", tag="v9", digest=D2)]


def test_every_tag_selects_the_listing_in_name_order() -> None:
    assert [r.text for r in EVERY_TAG.select(["b", "a"])] == ["a", "b"]
    with pytest.raises(ValueError, match="tag list"):
        EVERY_TAG.select(None)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("semver: >=1.2", "invalid semver range '>=1.2'"),
        ("semver: >=v1.2.0", "invalid semver range"),
        ("semver:", "needs a range"),
        ("regex: (", "invalid regular expression '('"),
        ("regex:", "needs a regular expression"),
        ("regex: !", "needs a regular expression"),
        ("keep: [", "invalid regular expression '['"),
        ("keep: latest", "'keep: latest' needs a number"),
        ("keep: latest five", "'keep: latest' needs a number"),
        ("keep: latest -1", "'keep: latest' needs a number"),
        ("sha256:abc", "invalid digest"),
        (f"v1@sha256:{'a' * 10}", "is not a digest"),
        (f"-v1@{D1}", "'-v1' is not a valid tag"),
        ("-bad", "invalid tag '-bad'"),
        ("a" * 129, "invalid tag"),
        ("Semver: 1.0.0", "invalid tag"),  # prefixes are case-sensitive, as in dregsy
    ],
)
def test_bad_entries(text: str, fragment: str) -> None:
    with pytest.raises(TagEntryError) as info:
        parse_entry(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("keep:   latest   3", "KeepLatest"),
        ("keep:latest 3", "KeepFilter"),  # dregsy: white space after keep: or a regex
        ("keep: latest.*", "KeepFilter"),
        ("keep: ^latest$", "KeepFilter"),
        ("keep: !latest", "KeepFilter"),
        ("  semver: >=1.0.0  ", "SemverFilter"),
        ("regex:v.*", "RegexFilter"),
    ],
)
def test_entries_are_classified_as_dregsy_does(text: str, kind: str) -> None:
    assert type(parse_entry(text)).__name__ == kind


def test_a_pinned_digest_wins_its_target_tag() -> None:
    pinned = f"stable@sha256:{'a' * 64}"
    selection = TagSelection.parse(["regex: .*", pinned])
    refs = selection.select(["stable", "v1"])
    assert sorted(r.text for r in refs) == [pinned, "v1"]


def test_keep_latest_without_a_space_is_a_keep_regex_as_in_dregsy() -> None:
    # dregsy 0.5.2 reads `keep:latest 2` as the keep regex `^latest 2$`, which no tag
    # matches: every listed tag is pruned, verbatim tags stay
    listed = ["1.0.0", "1.1.0", "1.2.0", "edge"]
    pruned = TagSelection.parse(["semver: >=1.0.0", "edge", "keep:latest 2"])
    assert [r.text for r in pruned.select(listed)] == ["edge"]
    limited = TagSelection.parse(["semver: >=1.0.0", "edge", "keep: latest 2"])
    assert [r.text for r in limited.select(listed)] == ["1.1.0", "1.2.0", "edge"]
