"""Go regex syntax and `ReplaceAllString`, checked against Go's documented outputs."""

from __future__ import annotations

import pytest

from dregsy.selection.goregex import GoRegexError, Matcher, anchor, compile_go, replace_all


@pytest.mark.parametrize(
    ("text", "anchored"),
    [("v1.*", "^v1.*$"), ("^v1", "^v1$"), ("v1$", "^v1$"), ("^v1$", "^v1$"), ("a|b", "^a|b$")],
)
def test_anchoring_adds_what_is_missing(text: str, anchored: str) -> None:
    assert anchor(text) == anchored


@pytest.mark.parametrize(
    ("regex", "matches", "misses"),
    [
        ("v1.*", ["v1", "v1.2"], ["av1", "xv1.2"]),
        ("!v.*", ["latest", "1.0"], ["v1"]),
        ("[[:digit:]]+", ["123"], ["12a", ""]),
        ("[[:alpha:]_]+", ["ab_c"], ["ab1"]),
        ("[^[:space:]]+", ["abc"], ["a b"]),
        ("\\Qa.b\\E", ["a.b"], ["axb"]),
        ("(?<major>[0-9]+)\\.x", ["1.x"], ["a.x"]),
        ("(?i)latest", ["LATEST"], ["latest1"]),
        ("x(?i)y", ["xY"], ["XY"]),
        ("(a(?i)b|c)d", ["aBd", "Cd"], ["aBD"]),
        ("\\d+", ["42"], ["\u0664\u0662"]),  # Go's \d is ASCII only
        ("[]a]+", ["]a]"], ["b"]),
        ("[a&&b]", ["&"], ["c"]),
    ],
)
def test_matcher(regex: str, matches: list[str], misses: list[str]) -> None:
    matcher = Matcher.parse(regex)
    assert [matcher.matches(m) for m in matches] == [True] * len(matches)
    assert [matcher.matches(m) for m in misses] == [False] * len(misses)


def test_dregsy_anchoring_of_alternations() -> None:
    # dregsy writes `^a|b$`, which matches "a..." and "...b": kept for compatibility
    matcher = Matcher.parse("a|b")
    assert matcher.matches("axx")
    assert matcher.matches("xxb")
    assert not matcher.matches("xax")
    assert not Matcher.parse("(a|b)").matches("axx")


@pytest.mark.parametrize("regex", ["(", "[[:nope:]]", "a{2,1}", "\\pL"])
def test_bad_regexes(regex: str) -> None:
    with pytest.raises(GoRegexError, match="invalid regular expression"):
        compile_go(regex)


GO_DOC = compile_go("a(x*)b")


@pytest.mark.parametrize(
    ("template", "expected"),
    [  # the outputs documented for Go's Regexp.ReplaceAllString
        ("T", "-T-T-"),
        ("$1", "--xx-"),
        ("$1W", "---"),
        ("${1}W", "-W-xxW-"),
        ("$$1", "-$1-$1-"),
        ("$", "-$-$-"),
        ("${1", "-${1-${1-"),
        ("$9", "---"),
        ("$01", "---"),
    ],
)
def test_replace_all_templates(template: str, expected: str) -> None:
    assert replace_all(GO_DOC, "-ab-axxb-", template) == expected


def test_replace_all_named_groups_and_empty_matches() -> None:
    names = compile_go("(?P<first>[a-zA-Z]+) (?P<last>[a-zA-Z]+)")
    assert replace_all(names, "Alan Turing", "${last} ${first}") == "Turing Alan"
    # Go does not replace an empty match right after a match (Python's re.sub does)
    assert replace_all(compile_go("x*"), "abxd", "-") == "-a-b-d-"
    assert replace_all(compile_go("\\\\"), "a\\b", "/") == "a/b"
