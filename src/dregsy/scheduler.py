"""The schedule: one-off tasks run once, periodic tasks at start and then every interval.

Each task has its own loop, so a task still running when its next tick comes is simply not
started again until it is done (the missed tick is coalesced into one immediate run).
Tasks run concurrently with each other. `stop` ends the loops between runs; running syncs
are left to the caller to drain or cancel.
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
) -> None:
    """Run every task per its interval until `stop` is set (or all tasks are one-offs)."""

    async def loop(task: Task) -> None:
        while not stop.is_set():
            started = clock.monotonic()
            await run_task(task)
            if not task.periodic:
                return
            now = clock.monotonic()
            due = next_start(interval=task.interval, last_start=started, now=now)
            if await clock.wait(stop, due - now):
                return

    async with asyncio.TaskGroup() as group:
        for task in tasks:
            group.create_task(loop(task), name=f"task {task.label}")
