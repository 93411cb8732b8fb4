"""Helpers for the config tests: parse text and look at the problems it raises."""

from __future__ import annotations

import base64
import textwrap

import pytest

from dregsy.config.load import parse_config
from dregsy.errors import ConfigError, ConfigProblem

JARGON = ("Input should", "pydantic", "errors.pydantic.dev", "Value error", "Extra inputs")


def problems_of(text: str) -> list[ConfigProblem]:
    """The problems that parsing `text` (dedented) raises; fails the test if it parses."""
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text))
    return list(info.value.problems)


def only_problem(text: str) -> ConfigProblem:
    """The single problem of `text`; fails the test if there are none or several."""
    problems = problems_of(text)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def check(problem: ConfigProblem, path: str, line: int | None, fragment: str) -> None:
    assert (problem.path, problem.line) == (path, line), str(problem)
    assert fragment in problem.message, str(problem)
    assert not any(word in problem.message for word in JARGON), str(problem)
    assert "\n" not in problem.message


def task(
    *,
    name: str = "name: t",
    source: str = "{registry: s.io}",
    target: str = "{registry: d.io}",
    mappings: str = "[{from: app}]",
    extra: str = "",
) -> str:
    """One task; line 2 holds `name`, 3 `source`, 4 `target`, 5 `mappings`, 6 `extra`."""
    text = f"tasks:\n  - {name}\n    source: {source}\n    target: {target}\n"
    text += f"    mappings: {mappings}\n"
    return text + (f"    {extra}\n" if extra else "")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()
