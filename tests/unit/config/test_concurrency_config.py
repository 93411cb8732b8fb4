"""`parallel` (images in flight) and a location's `max-connections`."""

from __future__ import annotations

import pytest

from dregsy.config.load import parse_config
from dregsy.config.types import DEFAULT_MAX_CONNECTIONS, DEFAULT_PARALLEL
from tests.unit.config.support import only_problem

BASE = """\
{top}
tasks:
  - name: t
    source: {{registry: s.io{source}}}
    target: {{registry: d.io}}
    mappings: [{{from: app}}]
"""


def test_defaults_and_values() -> None:
    plain = parse_config(BASE.format(top="", source=""))
    assert plain.parallel == DEFAULT_PARALLEL
    assert plain.tasks[0].source.max_connections == DEFAULT_MAX_CONNECTIONS
    tuned = parse_config(BASE.format(top="parallel: 32", source=", max-connections: 3"))
    assert tuned.parallel == 32
    assert tuned.tasks[0].source.max_connections == 3
    assert tuned.tasks[0].target.max_connections == DEFAULT_MAX_CONNECTIONS


@pytest.mark.parametrize(
    ("top", "source", "path", "fragment"),
    [
        ("parallel: 0", "", "parallel", "greater than or equal to 1"),
        ("parallel: '4'", "", "parallel", "whole number"),
        ("", ", max-connections: 0", "tasks[0].source.max-connections", "greater than"),
        ("", ", max-conections: 4", "tasks[0].source.max-conections", "'max-connections'"),
    ],
)
def test_bad_values(top: str, source: str, path: str, fragment: str) -> None:
    problem = only_problem(BASE.format(top=top, source=source))
    assert problem.path == path
    assert fragment in problem.message
