"""RepositoryLists: dregsy's `RepoList` cache (`cacheDuration`) and limit (`maxItems`)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from dregsy.config.types import ListerSettings, Location
from dregsy.listers.base import RepositoryLister
from dregsy.listers.cache import RepositoryLists
from dregsy.reference import parse_registry

SOURCE = Location(parse_registry("src.example.com"))
OTHER = Location(parse_registry("other.example.com"))


class FakeLister:
    def __init__(self, names: list[str], calls: list[int | None]) -> None:
        self._names = names
        self._calls = calls

    async def repositories(self, limit: int | None) -> list[str]:
        self._calls.append(limit)
        await asyncio.sleep(0)
        return self._names if limit is None else self._names[:limit]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lists(
    settings: ListerSettings, names: list[str], calls: list[int | None], clock: Clock
) -> RepositoryLists:
    async def make(location: Location) -> RepositoryLister:
        return FakeLister([f"{location.registry}/{n}" for n in names], calls)

    return RepositoryLists(make, settings, clock=clock)


async def test_a_list_is_reused_until_the_cache_expires() -> None:
    calls: list[int | None] = []
    clock = Clock()
    repo_lists = lists(ListerSettings(max_items=100, cache_duration=60), ["a", "b"], calls, clock)
    first = await repo_lists.repositories(SOURCE)
    clock.now += 59
    assert await repo_lists.repositories(SOURCE) == first
    assert calls == [101]  # one more than maxItems: tells whether the list was cut
    clock.now += 1
    await repo_lists.repositories(SOURCE)
    assert calls == [101, 101]
    await repo_lists.repositories(OTHER)
    assert calls == [101, 101, 101]


async def test_no_cache_lists_every_time_and_unlimited_asks_for_all(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int | None] = []
    settings = ListerSettings(max_items=-1, cache_duration=None)
    repo_lists = lists(settings, ["a"], calls, Clock())
    with caplog.at_level(logging.WARNING):
        await repo_lists.repositories(SOURCE)
        await repo_lists.repositories(SOURCE)
    assert calls == [None, None]
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("unlimited" in w for w in warnings) == 1
    assert sum("cache is off" in w for w in warnings) == 1


async def test_max_items_cuts_the_list_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int | None] = []
    repo_lists = lists(ListerSettings(max_items=2), ["a", "b", "c"], calls, Clock())
    with caplog.at_level(logging.WARNING):
        names = await repo_lists.repositories(SOURCE)
    assert names == ["src.example.com/a", "src.example.com/b"]
    assert "found more than 2 repositories" in caplog.text


async def test_exactly_max_items_is_not_a_cut(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int | None] = []
    repo_lists = lists(ListerSettings(max_items=2), ["a", "b"], calls, Clock())
    with caplog.at_level(logging.WARNING):
        assert len(await repo_lists.repositories(SOURCE)) == 2
    assert "found more than" not in caplog.text


async def test_concurrent_runs_list_once() -> None:
    calls: list[int | None] = []
    repo_lists = lists(ListerSettings(), ["a"], calls, Clock())
    results = await asyncio.gather(*(repo_lists.repositories(SOURCE) for _ in range(5)))
    assert calls == [101]
    assert all(r == results[0] for r in results)


async def test_callers_cannot_change_the_cached_list() -> None:
    calls: list[int | None] = []
    repo_lists = lists(ListerSettings(), ["a"], calls, Clock())
    (await repo_lists.repositories(SOURCE)).append("x")
    assert await repo_lists.repositories(SOURCE) == ["src.example.com/a"]
