from __future__ import annotations

import asyncio
from pathlib import Path

from dregsy.config.types import Location, Mapping, Task
from dregsy.reference import parse_registry
from dregsy.scheduler import next_start, run_schedule
from dregsy.watch import fingerprint, watch_file


class FakeClock:
    """Time that moves only when the scheduler waits (or a task says it took long)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        self.waits.append(seconds)
        await asyncio.sleep(0)
        if event.is_set():
            return True
        self.now += seconds
        return event.is_set()


def _task(name: str, interval: float = 0) -> Task:
    loc = Location(parse_registry("127.0.0.1:5000"))
    return Task(name, loc, loc, (Mapping("a", "a"),), interval=interval)


async def test_one_offs_run_once_and_periodic_tasks_repeat() -> None:
    clock = FakeClock()
    stop = asyncio.Event()
    runs: list[tuple[str, float]] = []

    async def run(task: Task) -> None:
        runs.append((task.name, clock.now))
        if len([r for r in runs if r[0] == "every10"]) == 3:
            stop.set()

    await run_schedule([_task("once"), _task("every10", 10)], run, stop=stop, clock=clock)
    assert runs.count(("once", 0.0)) == 1
    assert [t for n, t in runs if n == "every10"] == [0.0, 10.0, 20.0]


async def test_only_one_offs_end_by_themselves() -> None:
    clock = FakeClock()
    runs: list[str] = []

    async def run(task: Task) -> None:
        runs.append(task.name)

    await run_schedule([_task("a"), _task("b")], run, stop=asyncio.Event(), clock=clock)
    assert sorted(runs) == ["a", "b"]


async def test_overrunning_task_is_not_started_twice() -> None:
    clock = FakeClock()
    stop = asyncio.Event()
    starts: list[float] = []
    running = 0

    async def run(task: Task) -> None:
        nonlocal running
        running += 1
        assert running == 1
        starts.append(clock.now)
        clock.now += 25  # this run takes longer than the interval
        running -= 1
        if len(starts) == 3:
            stop.set()

    await run_schedule([_task("slow", 10)], run, stop=stop, clock=clock)
    assert starts == [0.0, 25.0, 50.0]  # each next run right after the previous one


async def test_waits_are_announced() -> None:
    clock = FakeClock()
    stop = asyncio.Event()
    heard: list[tuple[str, float | None]] = []
    runs = 0

    async def run(task: Task) -> None:
        nonlocal runs
        if task.name == "every10":
            runs += 1
            clock.now += 3  # a run of 3 s: the next one is 7 s away
            if runs == 2:
                stop.set()

    def on_wait(task: Task, seconds: float | None) -> None:
        heard.append((task.name, seconds))

    tasks = [_task("once"), _task("every10", 10)]
    await run_schedule(tasks, run, stop=stop, clock=clock, on_wait=on_wait)
    assert ("once", None) in heard
    assert [s for n, s in heard if n == "every10"] == [7.0, 7.0, None]  # stopped while waiting


def test_next_start() -> None:
    assert next_start(interval=60, last_start=100, now=130) == 160
    assert next_start(interval=60, last_start=100, now=200) == 200


async def test_watch_sees_a_change_made_before_it_started(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("one")
    loaded = fingerprint(config)
    config.write_text("two, longer")  # changed while a reload waited for running syncs
    stop = asyncio.Event()
    changes: list[int] = []

    def on_change() -> None:
        changes.append(1)
        stop.set()

    await watch_file(config, on_change, stop=stop, clock=FakeClock(), loaded=loaded)
    assert changes == [1]
