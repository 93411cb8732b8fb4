"""Mapping rules: `from`, `to`, `tags`, `platform(s)`, each with its exact path and line."""

from __future__ import annotations

import pytest

from tests.unit.config.support import check, only_problem, task

CASES = [
    ("from-missing", task(mappings="[{to: x}]"), "tasks[0].mappings[0].from", 5, "is required"),
    (
        "from-regex-bad",
        task(mappings="[{from: 'regex:a/(.*'}]"),
        "tasks[0].mappings[0].from",
        5,
        "invalid regular expression 'a/(.*'",
    ),
    (
        "to-regex-no-replacement",
        task(mappings="[{from: a, to: 'regex:^/a'}]"),
        "tasks[0].mappings[0].to",
        5,
        "the replacement is missing",
    ),
    (
        "from-upper",
        task(mappings="[{from: Team/App}]"),
        "tasks[0].mappings[0].from",
        5,
        "must be lower-case",
    ),
    ("to-bad", task(mappings="[{from: a, to: 'a b'}]"), "tasks[0].mappings[0].to", 5, "invalid"),
    ("tags-string", task(mappings="[{from: a, tags: v1}]"), "tasks[0].mappings[0].tags", 5, "list"),
    (
        "tag-bool",
        task(mappings="[{from: a, tags: [true]}]"),
        "tasks[0].mappings[0].tags[0]",
        5,
        "must be a string",
    ),
    (
        "tag-bad",
        task(mappings="[{from: a, tags: [ok, -x]}]"),
        "tasks[0].mappings[0].tags[1]",
        5,
        "'-x'",
    ),
    (
        "tag-semver-short",
        task(mappings="[{from: a, tags: ['semver: >=1.0']}]"),
        "tasks[0].mappings[0].tags[0]",
        5,
        "invalid semver range '>=1.0'",
    ),
    (
        "tag-regex-bad",
        task(mappings="[{from: a, tags: [v1, 'regex: ^v(']}]"),
        "tasks[0].mappings[0].tags[1]",
        5,
        "invalid regular expression '^v('",
    ),
    (
        "tag-keep-latest-no-number",
        task(mappings="[{from: a, tags: ['regex: .*', 'keep: latest']}]"),
        "tasks[0].mappings[0].tags[1]",
        5,
        "'keep: latest' needs a number",
    ),
    (
        "tag-digest-short",
        task(mappings="[{from: a, tags: ['sha256:abc']}]"),
        "tasks[0].mappings[0].tags[0]",
        5,
        "invalid digest 'sha256:abc'",
    ),
    (
        "tag-name-digest-bad-name",
        task(mappings=f"[{{from: a, tags: ['-v1@sha256:{'b' * 64}']}}]"),
        "tasks[0].mappings[0].tags[0]",
        5,
        "'-v1' is not a valid tag",
    ),
    (
        "platform-and-platforms",
        task(mappings="[{from: a, platform: linux/arm64/v8, platforms: [linux/amd64]}]"),
        "tasks[0].mappings[0].platforms",
        5,
        "cannot be used together with 'platform'",
    ),
    (
        "platform-bad",
        task(mappings="[{from: a, platform: 'linux amd64'}]"),
        "tasks[0].mappings[0].platform",
        5,
        "invalid platform 'linux amd64'",
    ),
    (
        "platforms-all",
        task(mappings="[{from: a, platforms: [linux/amd64, all]}]"),
        "tasks[0].mappings[0].platforms",
        5,
        "invalid platform 'all'",
    ),
    (
        "platforms-twice",
        task(mappings="[{from: a, platforms: [linux/amd64, linux/amd64]}]"),
        "tasks[0].mappings[0].platforms",
        5,
        "lists a platform twice",
    ),
    (
        "platforms-string",
        task(mappings="[{from: a, platforms: linux/amd64}]"),
        "tasks[0].mappings[0].platforms",
        5,
        "must be a list",
    ),
    ("mapping-typo", task(mappings="[{form: a}]"), "tasks[0].mappings[0].form", 5, "'from'"),
]


@pytest.mark.parametrize(
    ("text", "path", "line", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_mapping_problem(text: str, path: str, line: int, fragment: str) -> None:
    check(only_problem(text), path, line, fragment)
