"""A source location's `ratelimit: {min, retry}`."""

from __future__ import annotations

import pytest

from dregsy.config.load import parse_config
from dregsy.config.types import DEFAULT_RATELIMIT_RETRY, RateLimit
from tests.unit.config.support import check, only_problem

BASE = """\
tasks:
  - name: t
    source:
      registry: docker.io
      ratelimit:
        {ratelimit}
    target:
      registry: d.io
      {target}
    mappings: [{{from: app}}]
"""


def test_values_and_default_retry() -> None:
    config = parse_config(BASE.format(ratelimit="min: 20", target=""))
    assert config.tasks[0].source.ratelimit == RateLimit(20, DEFAULT_RATELIMIT_RETRY)
    assert DEFAULT_RATELIMIT_RETRY == 300.0
    config = parse_config(BASE.format(ratelimit="{min: 20, retry: 1m30s}", target=""))
    assert config.tasks[0].source.ratelimit == RateLimit(20, 90.0)
    assert config.tasks[0].target.ratelimit is None
    # any positive retry is taken as given, however short
    config = parse_config(BASE.format(ratelimit="{min: 1, retry: 10ms}", target=""))
    assert config.tasks[0].source.ratelimit == RateLimit(1, 0.01)


@pytest.mark.parametrize(
    ("ratelimit", "target", "path", "line", "fragment"),
    [
        ("{retry: 1m}", "", "tasks[0].source.ratelimit.min", 5, "is required"),
        ("{min: 0}", "", "tasks[0].source.ratelimit.min", 6, "greater than or equal to 1"),
        ("{min: '5'}", "", "tasks[0].source.ratelimit.min", 6, "whole number"),
        ("{min: 5, retry: 30}", "", "tasks[0].source.ratelimit.retry", 6, "with a unit"),
        ("{min: 5, retry: 5x}", "", "tasks[0].source.ratelimit.retry", 6, "unknown unit"),
        ("{min: 5, retry: -1m}", "", "tasks[0].source.ratelimit.retry", 6, "positive"),
        ("{min: 5, retyr: 1m}", "", "tasks[0].source.ratelimit.retyr", 6, "'retry'"),
        ("5", "", "tasks[0].source.ratelimit", 5, "must be a mapping"),
        (
            "{min: 5}",
            "ratelimit: {min: 5}",
            "tasks[0].target.ratelimit",
            9,
            "only applies to a task's source",
        ),
    ],
)
def test_bad_values(ratelimit: str, target: str, path: str, line: int, fragment: str) -> None:
    problem = only_problem(BASE.format(ratelimit=ratelimit, target=target))
    check(problem, path, line, fragment)
