"""The YAML layer: syntax errors, duplicate keys, odd documents, positions."""

from __future__ import annotations

import pytest

from dregsy.config import yamlpos
from dregsy.config.issues import format_path
from dregsy.config.yamlpos import read_yaml
from tests.unit.config.support import check, only_problem, problems_of

TASKS = """\
tasks:
  - name: t
    source: {registry: s.io}
    target: {registry: d.io}
    mappings: [{from: app}]
"""

LAUGHS = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcde", "bcdef", strict=True)
)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("", 1, "the file is empty"),
        ("# only a comment\n\n", 1, "is empty"),
        ("---\n", 1, "is empty"),
        ("- a\n- b\n", 1, "must be a mapping of keys to values at the top"),
        ("just text\n", 1, "must be a mapping"),
        ("tasks:\n  - name: a\n   bad: [\n", 3, "invalid YAML"),
        ("tasks: [a, b\nwatch: true\n", 2, "expected ',' or ']'"),
        ("tasks:\n\t- a\n", 2, "found character '\\t' that cannot start any token"),
        ("watch: true\n---\nwatch: false\n", 2, "expected a single document"),
        ("tasks: *nowhere\n", 1, "found undefined alias 'nowhere'"),
        ("tasks: \x00\n", 1, "unacceptable character #x0000"),
        ("tasks: !!python/name:os.system\n", 1, "could not determine a constructor"),
        ("watch: true\nlist: &x [*x]\n", 2, "an alias refers to a collection that contains it"),
        ("base: &x {<<: *x}\n", 1, "an alias refers to a collection that contains it"),
        (LAUGHS, 1, "expands to more than 100000 values"),
        ("tasks: <<\n<<: 5\n", 2, "'<<' can only merge mappings"),
    ],
    ids=[
        "empty",
        "comments",
        "null-document",
        "list",
        "scalar",
        "bad-indent",
        "open-flow",
        "tab",
        "two-documents",
        "undefined-alias",
        "nul",
        "python-tag",
        "recursive-alias",
        "recursive-merge",
        "billion-laughs",
        "merge-scalar",
    ],
)
def test_file_level_problem(text: str, line: int, fragment: str) -> None:
    problem = only_problem(text)
    assert problem.path == "" or fragment == "an alias refers to a collection that contains it"
    assert problem.line == line, str(problem)
    assert fragment in problem.message, str(problem)


def test_wrong_tag_does_not_echo_the_value() -> None:
    check(only_problem("watch: !!int hunter2\n"), "watch", 1, "does not fit its tag !!int")
    assert "hunter2" not in str(problems_of("watch: !!int hunter2\n")[0])


def test_nested_too_deeply() -> None:
    assert "nested too deeply" in only_problem("a: " + "[" * 800 + "]" * 800).message


def test_duplicate_keys_are_errors() -> None:
    text = "watch: true\n" + TASKS + "watch: false\n"
    check(only_problem(text), "watch", 7, "duplicate key 'watch' (first given on line 1)")


def test_duplicate_keys_in_nested_mapping() -> None:
    text = TASKS.replace("    source: {registry: s.io}\n", "    source:\n      registry: s.io\n")
    text = text.replace("      registry: s.io\n", "      registry: s.io\n      registry: t.io\n")
    check(only_problem(text), "tasks[0].source.registry", 5, "duplicate key 'registry'")


def test_a_merge_key_may_be_overridden() -> None:
    text = TASKS.replace("{registry: d.io}", "{<<: {registry: x.io}, registry: d.io}")
    assert problems_of(text.replace("{from: app}", "{}"))[0].path == "tasks[0].mappings[0].from"


def test_non_string_keys_become_unknown_keys() -> None:
    problems = problems_of("1: a\nyes: b\n[a]: c\n" + TASKS)
    assert [(p.path, p.line, p.message) for p in problems] == [
        ("1", 1, "unknown key '1'"),
        ("yes", 2, "unknown key 'yes'"),
        ("", 3, "keys must be plain names"),
    ]


def test_positions_of_keys_and_items() -> None:
    doc = read_yaml(TASKS.replace("[{from: app}]", "\n      - from: app\n        to: b"))
    lines = {format_path(loc): line for loc, line in doc.lines.items()}
    assert lines == {
        "": 1,
        "tasks": 1,
        "tasks[0]": 2,
        "tasks[0].name": 2,
        "tasks[0].source": 3,
        "tasks[0].source.registry": 3,
        "tasks[0].target": 4,
        "tasks[0].target.registry": 4,
        "tasks[0].mappings": 5,
        "tasks[0].mappings[0]": 6,
        "tasks[0].mappings[0].from": 6,
        "tasks[0].mappings[0].to": 7,
    }


@pytest.mark.parametrize(
    ("top", "version"),
    [("api-version: 1.40", "1.40"), ("docker: {api-version: 1.4}", "1.4")],
    ids=["top", "section"],
)
def test_unquoted_api_version_keeps_its_text(top: str, version: str) -> None:
    from dregsy.config.load import parse_config

    assert parse_config(top + "\n" + TASKS).docker.api_version == version


SAMPLE = """\
base: &base {registry: "r.test:5000", skip-tls-verify: yes}
tasks:
  - name: one
    source:
      <<: *base
      auth: 'quoted'
    target: {registry: plain, max-connections: 16}
    mappings:
      - from: a
        to: b
        tags: ['1.0', "2.0", semver:>=1]
      - {from: c, to: d}
    name: again
"""


def test_libyaml_and_the_python_loader_read_the_same() -> None:
    """The fast loader is only a faster way to the same document (lines, texts, issues)."""
    assert yamlpos._FAST_LOADER is not None  # PyYAML built with libyaml, as wheels are
    fast = yamlpos._read(yamlpos._FAST_LOADER(SAMPLE))  # no fallback: libyaml's own tree
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(yamlpos, "_FAST_LOADER", None)
        slow = yamlpos.read_yaml(SAMPLE)
    assert fast.data == slow.data
    assert fast.lines == slow.lines
    assert fast.texts == slow.texts
    assert fast.issues == slow.issues
    assert fast.issues  # the duplicate `name`
