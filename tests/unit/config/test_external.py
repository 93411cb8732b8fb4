"""`${VAR}` from the environment and `auth-file`: expanded before validation, errors with
the key path and line, and never a value in a message."""

from __future__ import annotations

import json
import textwrap
import traceback
from pathlib import Path

import pytest

from dregsy.config.external import substitute
from dregsy.config.load import load_config, parse_config
from dregsy.credentials import Credentials
from dregsy.errors import ConfigError
from tests.unit.config.support import b64, check, only_problem

SECRET = "s3cr3t-Vx9"
AUTH = b64(json.dumps({"username": "u", "password": SECRET}))


@pytest.mark.parametrize(
    ("text", "expanded"),
    [
        ("${A}", "alpha"),
        ("x-${A}-y", "x-alpha-y"),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${A:-fallback}", "alpha"),
        ("${UNSET:-}", ""),
        ("$$", "$"),
        ("cost: $$5 and ${A}", "cost: $5 and alpha"),
        ("^v1$", "^v1$"),
        ("$A", "$A"),
        ("a$", "a$"),
    ],
)
def test_substitute(text: str, expanded: str) -> None:
    assert substitute(text, {"A": "alpha", "EMPTY": ""}) == (expanded, [])


def test_substitute_problems() -> None:
    assert substitute("${NOPE}", {})[1] == ["uses the environment variable NOPE, which is not set"]
    assert "invalid reference" in substitute("${1X}", {})[1][0]
    assert "without a closing" in substitute("${A", {"A": "a"})[1][0]


CONFIG = """\
tasks:
  - name: ${NAME:-t}
    interval: ${INTERVAL}
    source:
      registry: ${SOURCE}
      auth: ${SOURCE_AUTH}
    target: {registry: d.io}
    mappings: [{from: app}]
"""


def test_values_come_from_the_environment() -> None:
    env = {"INTERVAL": "90", "SOURCE": "s.io", "SOURCE_AUTH": AUTH}
    task = parse_config(CONFIG, env=env).tasks[0]
    assert task.name == "t"
    assert task.interval == 90.0  # a plain value that expands to a number is one
    assert task.source.registry.host == "s.io"
    assert task.source.credentials == Credentials("u", SECRET)


def test_undefined_variable_names_it_with_path_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(CONFIG, env={"INTERVAL": "90", "SOURCE": "s.io"})
    (problem,) = info.value.problems
    check(problem, "tasks[0].source.auth", 6, "SOURCE_AUTH, which is not set")


def test_bad_secret_from_the_environment_is_not_shown() -> None:
    env = {"INTERVAL": "90", "SOURCE": "s.io", "SOURCE_AUTH": SECRET + "!"}
    with pytest.raises(ConfigError) as info:
        parse_config(CONFIG, env=env)
    printed = "".join(traceback.format_exception(info.value)) + repr(info.value.problems)
    assert SECRET not in printed


def test_quoted_values_stay_strings() -> None:
    text = textwrap.dedent(
        """\
        tasks:
          - name: t
            source: {registry: s.io}
            target: {registry: d.io}
            mappings: [{from: app, tags: ["${TAG}"]}]
        """
    )
    assert parse_config(text, env={"TAG": "1"}).tasks[0].mappings[0].tags is not None


def _file_config(tmp_path: Path, location: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "tasks:\n  - name: t\n    source:\n      registry: s.io\n"
        f"{location}\n    target: {{registry: d.io}}\n    mappings: [{{from: app}}]\n"
    )
    return path


def test_auth_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "source.auth").write_text(AUTH + "\n")
    config = load_config(_file_config(tmp_path, "      auth-file: secrets/source.auth"))
    assert config.tasks[0].source.credentials == Credentials("u", SECRET)


@pytest.mark.parametrize(
    ("location", "fragment"),
    [
        ("      auth-file: missing.auth", "cannot read"),
        ("      auth-file: bad.auth", "is not valid base64"),
        (f"      auth-file: bad.auth\n      auth: {AUTH}", "cannot be used together with 'auth'"),
    ],
    ids=["unreadable", "bad-content", "with-auth"],
)
def test_auth_file_problems(tmp_path: Path, location: str, fragment: str) -> None:
    (tmp_path / "bad.auth").write_text(SECRET + "!")
    with pytest.raises(ConfigError) as info:
        load_config(_file_config(tmp_path, location))
    (problem,) = info.value.problems
    check(problem, "tasks[0].source.auth-file", 5, fragment)
    assert SECRET not in str(info.value)


def test_auth_file_path_from_a_variable(tmp_path: Path) -> None:
    (tmp_path / "s.auth").write_text(AUTH)
    text = "tasks:\n  - name: t\n    source: {registry: s.io, auth-file: '${DIR}/s.auth'}\n"
    text += "    target: {registry: d.io}\n    mappings: [{from: app}]\n"
    config = parse_config(text, env={"DIR": str(tmp_path)})
    assert config.tasks[0].source.credentials == Credentials("u", SECRET)


def test_unset_variable_in_a_required_key_is_one_problem() -> None:
    problem = only_problem(
        "tasks:\n  - name: ${N}\n    source: {registry: s.io}\n"
        "    target: {registry: d.io}\n    mappings: [{from: app}]\n"
    )
    check(problem, "tasks[0].name", 2, "N, which is not set")


def test_numbered_regex_groups_are_not_variables() -> None:
    assert substitute("regex:^/team/(.*),mirror/${1}-x", {}) == (
        "regex:^/team/(.*),mirror/${1}-x",
        [],
    )
    assert substitute("$${name}", {}) == ("${name}", [])
