from __future__ import annotations

import asyncio
from pathlib import Path

from dregsy.config.types import Location, Mapping, Task
from dregsy.reference import parse_registry
from dregsy.scheduler import next_start, predecessors, run_schedule
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


def _between(name: str, source: str, target: str, interval: float = 0) -> Task:
    return Task(
        name,
        Location(parse_registry(source)),
        Location(parse_registry(target)),
        (Mapping("a", "a"),),
        interval=interval,
    )


def test_predecessors_are_earlier_tasks_writing_the_source() -> None:
    tasks = [
        _between("pull", "registry.hub.docker.com", "127.0.0.1:5000"),
        _between("other", "quay.io", "127.0.0.1:6000"),
        _between("copy", "127.0.0.1:5000", "127.0.0.1:5000"),  # reads what `pull` wrote
        _between("hub", "docker.io", "127.0.0.1:7000"),  # Docker Hub is nobody's target
        _between("later", "127.0.0.1:6000", "127.0.0.1:8000"),
    ]
    assert predecessors(tasks) == [[], [], [0], [], [1]]


async def test_chained_task_runs_after_its_predecessor_others_side_by_side() -> None:
    events: list[str] = []
    gate = asyncio.Event()

    async def run(task: Task) -> None:
        events.append(f"start {task.name}")
        if task.name == "first":
            await gate.wait()  # held until the independent task has started
        elif task.name == "independent":
            gate.set()
        await asyncio.sleep(0)
        events.append(f"end {task.name}")

    tasks = [
        _between("first", "quay.io", "127.0.0.1:5000"),
        _between("second", "127.0.0.1:5000", "127.0.0.1:5000"),
        _between("independent", "quay.io", "127.0.0.1:6000"),
    ]
    await run_schedule(tasks, run, stop=asyncio.Event(), clock=FakeClock())
    # `independent` ran while `first` was running; `second` only after `first` ended
    assert events.index("start independent") < events.index("end first")
    assert events.index("end first") < events.index("start second")


async def test_a_periodic_chained_task_is_not_starved_by_its_predecessor() -> None:
    clock = FakeClock()
    stop = asyncio.Event()
    starts: list[str] = []

    async def run(task: Task) -> None:
        starts.append(task.name)
        if task.name == "pull":
            clock.now += 25  # overruns its interval: runs back to back
        for _ in range(3):
            await asyncio.sleep(0)
        if starts.count("copy") == 3:
            stop.set()

    tasks = [
        _between("pull", "quay.io", "127.0.0.1:5000", interval=10),
        _between("copy", "127.0.0.1:5000", "127.0.0.1:6000", interval=10),
    ]
    await asyncio.wait_for(run_schedule(tasks, run, stop=stop, clock=clock), 5)
    assert starts[0] == "pull"
    assert starts.count("copy") == 3


async def test_stop_while_waiting_for_a_predecessor_ends_the_schedule() -> None:
    stop = asyncio.Event()
    started: list[str] = []

    async def run(task: Task) -> None:
        started.append(task.name)
        stop.set()  # stopped during the first task's run
        await asyncio.sleep(0)

    tasks = [
        _between("first", "quay.io", "127.0.0.1:5000"),
        _between("second", "127.0.0.1:5000", "127.0.0.1:6000"),
    ]
    await asyncio.wait_for(run_schedule(tasks, run, stop=stop, clock=FakeClock()), 5)
    assert started == ["first"]


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
