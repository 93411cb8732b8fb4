"""Task and location rules, each with a failing case: exact path, line and message."""

from __future__ import annotations

import pytest

from tests.unit.config.support import b64, check, only_problem, problems_of, task

NO_USERNAME = b64('{"password": "x"}')

MISSING_NAME = """\
tasks:
  - source: {registry: s.io}
    target: {registry: d.io}
    mappings: [{from: app}]
"""

CASES = [
    # task keys
    ("name-missing", MISSING_NAME, "tasks[0].name", 2, "is required"),
    ("name-empty", task(name="name: ''"), "tasks[0].name", 2, "must not be empty"),
    ("name-number", task(name="name: 7"), "tasks[0].name", 2, "must be a string"),
    ("interval-negative", task(extra="interval: -5"), "tasks[0].interval", 6, ">= 0"),
    ("interval-bool", task(extra="interval: true"), "tasks[0].interval", 6, "number of seconds"),
    ("interval-string", task(extra="interval: '60'"), "tasks[0].interval", 6, "number of seconds"),
    ("interval-inf", task(extra="interval: .inf"), "tasks[0].interval", 6, "number of seconds"),
    ("verbose-string", task(extra="verbose: 'no'"), "tasks[0].verbose", 6, "must be true or false"),
    ("verbose-number", task(extra="verbose: 1"), "tasks[0].verbose", 6, "must be true or false"),
    ("typo", task(extra="intervall: 60"), "tasks[0].intervall", 6, "(did you mean 'interval'?)"),
    ("typo-case", task(extra="Verbose: true"), "tasks[0].Verbose", 6, "did you mean 'verbose'"),
    ("no-hint", task(extra="colour: red"), "tasks[0].colour", 6, "unknown key 'colour'"),
    ("source-null", task(source=""), "tasks[0].source", 3, "has no value"),
    ("source-string", task(source="s.io"), "tasks[0].source", 3, "must be a mapping"),
    ("mappings-map", task(mappings="{from: a}"), "tasks[0].mappings", 5, "must be a list"),
    # location keys
    ("registry-missing", task(source="{auth: none}"), "tasks[0].source.registry", 3, "is required"),
    ("registry-number", task(target="{registry: 5}"), "tasks[0].target.registry", 4, "string"),
    ("registry-bad", task(source="{registry: 'a b'}"), "tasks[0].source.registry", 3, "invalid"),
    (
        "registry-at",
        task(source="{registry: 'x@quay.io'}"),
        "tasks[0].source.registry",
        3,
        "only public ECR",
    ),
    (
        "auth-base64",
        task(source="{registry: s.io, auth: '!!!'}"),
        "tasks[0].source.auth",
        3,
        "base64",
    ),
    (
        "auth-not-json",
        task(source=f"{{registry: s.io, auth: '{b64('no json here')}'}}"),
        "tasks[0].source.auth",
        3,
        "does not decode to JSON",
    ),
    (
        "auth-array",
        task(source=f"{{registry: s.io, auth: '{b64('[1, 2]')}'}}"),
        "tasks[0].source.auth",
        3,
        "JSON object",
    ),
    (
        "auth-no-username",
        task(source=f"{{registry: s.io, auth: '{NO_USERNAME}'}}"),
        "tasks[0].source.auth",
        3,
        "'username'",
    ),
    (
        "auth-None",
        task(target="{registry: d.io, auth: None}"),
        "tasks[0].target.auth",
        4,
        "lower case",
    ),
    ("auth-number", task(target="{registry: d.io, auth: 5}"), "tasks[0].target.auth", 4, "string"),
    (
        "auth-refresh-not-ecr",
        task(source="{registry: s.io, auth-refresh: 1h}"),
        "tasks[0].source.auth-refresh",
        3,
        "only works with AWS ECR",
    ),
    (
        "auth-refresh-duration",
        task(source="{registry: public.ecr.aws, auth-refresh: soon}"),
        "tasks[0].source.auth-refresh",
        3,
        "invalid duration 'soon'",
    ),
    (
        "auth-refresh-decimal",
        task(source="{registry: public.ecr.aws, auth-refresh: 1.5}"),
        "tasks[0].source.auth-refresh",
        3,
        "with a unit",
    ),
    (
        "auth-refresh-negative",
        task(source="{registry: public.ecr.aws, auth-refresh: -1h}"),
        "tasks[0].source.auth-refresh",
        3,
        "positive",
    ),
    (
        "auth-refresh-underscore",
        task(source="{registry: public.ecr.aws, auth_refresh: 1h}"),
        "tasks[0].source.auth_refresh",
        3,
        "did you mean 'auth-refresh'",
    ),
    (
        "skip-tls-verify",
        task(target="{registry: d.io, skip-tls-verify: 'yes'}"),
        "tasks[0].target.skip-tls-verify",
        4,
        "must be true or false",
    ),
    (
        "lister-type",
        task(source="{registry: s.io, lister: {type: ls}}"),
        "tasks[0].source.lister.type",
        3,
        "must be one of 'catalog', 'dockerhub' or 'index'",
    ),
    (
        "lister-no-type",
        task(source="{registry: s.io, lister: {}}"),
        "tasks[0].source.lister.type",
        3,
        "is required",
    ),
    (
        "lister-index-search",
        task(source="{registry: s.io, lister: {type: index}}", mappings="[{from: 'regex:a/.*'}]"),
        "tasks[0].source.lister.search",
        3,
        "is required when type is 'index' and a mapping's 'from' is a regex",
    ),
    (
        "lister-typo",
        task(source="{registry: s.io, lister: {type: index, serach: x}}"),
        "tasks[0].source.lister.serach",
        3,
        "did you mean 'search'",
    ),
]


@pytest.mark.parametrize(
    ("text", "path", "line", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_one_problem(text: str, path: str, line: int, fragment: str) -> None:
    problems = problems_of(text)
    assert len(problems) == 1, [str(p) for p in problems]
    check(problems[0], path, line, fragment)


def test_missing_section_uses_the_line_of_its_parent() -> None:
    text = "tasks:\n  - name: t\n\n    target: {registry: d.io}\n    mappings: [{from: a}]\n"
    check(only_problem(text), "tasks[0].source", 2, "is required")


def test_every_problem_is_collected_in_file_order() -> None:
    text = task(name="name: x", extra="verbose: 'no'")
    text += "  - name: x\n    interval: -1\n    source: {registry: 'a b'}\n"
    text += "    target: {registry: d.io}\n    mappings: [{from: a, tags: ['regex: (']}]\n"
    got = [(p.path, p.line) for p in problems_of(text)]
    assert got == [
        ("tasks[0].verbose", 6),
        ("tasks[1].interval", 8),
        ("tasks[1].source.registry", 9),
        ("tasks[1].mappings[0].tags[0]", 11),
    ]


def test_registry_with_credentials_is_refused_without_echoing_them() -> None:
    """`registry: user:pass@host` names the key, never the password (issue 16)."""
    text = task(source="{registry: 'http://bob:hun@ter2@registry.example:5000'}")
    message = str(only_problem(text))
    assert "tasks[0].source.registry" in message
    assert "credentials go in 'auth'" in message
    assert "hun" not in message
    assert "ter2" not in message
    assert "bob" not in message
