"""The schedule: one-off tasks run once, periodic tasks at start and then every interval.

Each task has its own loop, so a task still running when its next tick comes is simply not
started again until it is done (the missed tick is coalesced into one immediate run).
Tasks run concurrently with each other, except chained tasks: a task whose source registry
is the target registry of an earlier task (in config order) reads what that task writes, as
dregsy's own configs do (dregsy runs every task one after another). It starts its first run
after that task's first run has ended, and each later run only while that task is not
running. `stop` ends the loops between runs; running syncs are left to the caller to drain
or cancel. `on_wait` hears how long a periodic task waits before its next run (None: it
will not run again in this schedule).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from dregsy.clock import Clock
from dregsy.config.types import Task

log = logging.getLogger(__name__)


def next_start(*, interval: float, last_start: float, now: float) -> float:
    """When a periodic task runs next: one interval after its last start, or now if overdue."""
    return max(now, last_start + interval)


def predecessors(tasks: Sequence[Task]) -> list[list[int]]:
    """For each task, the earlier tasks (by index) whose target registry is its source."""
    return [
        [j for j in range(i) if tasks[j].target.registry.host == task.source.registry.host]
        for i, task in enumerate(tasks)
    ]


async def _wait_until(events: Sequence[asyncio.Event], stop: asyncio.Event) -> bool:
    """Wait until every event is set (True), or until `stop` is (False)."""
    for event in events:
        if event.is_set():
            continue
        waits = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        if stop.is_set():
            return False
    return True


async def run_schedule(
    tasks: Sequence[Task],
    run_task: Callable[[Task], Awaitable[object]],
    *,
    stop: asyncio.Event,
    clock: Clock,
    on_wait: Callable[[Task, float | None], None] | None = None,
) -> None:
    """Run every task per its interval until `stop` is set (or all tasks are one-offs)."""
    after = predecessors(tasks)
    first_done = [asyncio.Event() for _ in tasks]  # set when a task's first run ended
    # each task's current run, set when it ends (a set event: not running)
    current = [asyncio.Event() for _ in tasks]
    for event in current:
        event.set()

    async def wait_for_predecessors(index: int) -> bool:
        """After their first runs, and after the runs they are in now (not any later one,
        so a predecessor that runs back to back cannot hold this task up for ever)."""
        before = after[index]
        if not await _wait_until([first_done[j] for j in before], stop):
            return False
        return await _wait_until([current[j] for j in before], stop)

    def waiting(task: Task, seconds: float | None) -> None:
        if on_wait is not None:
            on_wait(task, seconds)

    async def loop(index: int, task: Task) -> None:
        try:
            while not stop.is_set():
                if not await wait_for_predecessors(index):
                    return
                started = clock.monotonic()
                running = current[index] = asyncio.Event()
                try:
                    await run_task(task)
                finally:
                    running.set()
                    first_done[index].set()
                if not task.periodic:
                    waiting(task, None)
                    return
                now = clock.monotonic()
                due = next_start(interval=task.interval, last_start=started, now=now)
                waiting(task, due - now)
                if await clock.wait(stop, due - now):
                    waiting(task, None)
                    return
        finally:
            first_done[index].set()  # a task that ends (or never ran) holds no one up

    for index, task in enumerate(tasks):
        if after[index]:
            names = ", ".join(tasks[j].label for j in after[index])
            log.info(
                "task %s runs after %s: its source registry %s is their target",
                task.label,
                names,
                task.source.registry,
            )
    async with asyncio.TaskGroup() as group:
        for index, task in enumerate(tasks):
            group.create_task(loop(index, task), name=f"task {task.label}")
