"""Repository paths of regex mappings: `from` patterns, `to` prefixes and rewrites."""

from __future__ import annotations

import pytest

from dregsy.selection.paths import PathRuleError, RepoRule, Rewrite, SourcePattern


@pytest.mark.parametrize(
    ("to", "path", "expected"),
    [
        (None, "team/a", "team/a"),
        ("mirror", "team/a", "mirror/team/a"),
        ("/mirror/", "team/a", "mirror/team/a"),
        (Rewrite.parse("regex:^/team/(.*),/copies/$1"), "team/a", "/copies/a"),
        (Rewrite.parse("regex:^/(\\w+)/(.*),/m/$1-$2"), "team/a/b", "/m/team-a/b"),
        (Rewrite.parse("regex:a,b"), "team/a", "/tebm/b"),  # not anchored, every match
        (Rewrite.parse("regex: ^/(.*) , mirror/${1}x "), "app", "mirror/appx"),
        (Rewrite.parse("regex:^/nomatch,x"), "team/a", "/team/a"),
    ],
)
def test_targets(to: str | Rewrite | None, path: str, expected: str) -> None:
    rule = RepoRule(SourcePattern.parse("regex:.*"), to)
    assert rule.target_for(path) == expected


def test_source_pattern_is_anchored() -> None:
    pattern = SourcePattern.parse("regex:team/.*")
    assert pattern.matches("team/a")
    assert not pattern.matches("other/team/a")
    assert not SourcePattern.parse("regex:team").matches("team/a")
    assert str(pattern) == "regex:team/.*"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("regex:", "needs a regular expression"),
        ("regex:team/(", "invalid regular expression 'team/('"),
    ],
)
def test_bad_sources(text: str, fragment: str) -> None:
    with pytest.raises(PathRuleError, match=fragment.replace("(", "\\(")):
        SourcePattern.parse(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("regex:^/team", "the replacement is missing"),
        ("regex:,x", "needs a regular expression"),
        ("regex:(,x", "invalid regular expression"),
    ],
)
def test_bad_rewrites(text: str, fragment: str) -> None:
    with pytest.raises(PathRuleError, match=fragment):
        Rewrite.parse(text)
