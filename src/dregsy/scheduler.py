"""The schedule: one-off tasks run once, periodic tasks at start and then every interval.

Each task has its own loop, so a task still running when its next tick comes is simply not
started again until it is done (the missed tick is coalesced into one immediate run).
Tasks run concurrently with each other. `stop` ends the loops between runs; running syncs
are left to the caller to drain or cancel. `on_wait` hears how long a periodic task waits
before its next run (None: it will not run again in this schedule).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from dregsy.clock import Clock
from dregsy.config.types import Task


def next_start(*, interval: float, last_start: float, now: float) -> float:
    """When a periodic task runs next: one interval after its last start, or now if overdue."""
    return max(now, last_start + interval)


async def run_schedule(
    tasks: Sequence[Task],
    run_task: Callable[[Task], Awaitable[object]],
    *,
    stop: asyncio.Event,
    clock: Clock,
    on_wait: Callable[[Task, float | None], None] | None = None,
) -> None:
    """Run every task per its interval until `stop` is set (or all tasks are one-offs)."""

    def waiting(task: Task, seconds: float | None) -> None:
        if on_wait is not None:
            on_wait(task, seconds)

    async def loop(task: Task) -> None:
        while not stop.is_set():
            started = clock.monotonic()
            await run_task(task)
            if not task.periodic:
                waiting(task, None)
                return
            now = clock.monotonic()
            due = next_start(interval=task.interval, last_start=started, now=now)
            waiting(task, due - now)
            if await clock.wait(stop, due - now):
                waiting(task, None)
                return

    async with asyncio.TaskGroup() as group:
        for task in tasks:
            group.create_task(loop(task), name=f"task {task.name}")
