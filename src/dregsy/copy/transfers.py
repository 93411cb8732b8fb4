"""Work done once per run: concurrent requests for the same blob or manifest share one transfer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable


class Transfers:
    """Runs each keyed job once; later callers await the same result.

    A failed job is forgotten, so the next caller tries again.
    """

    def __init__(self) -> None:
        self._jobs: dict[Hashable, asyncio.Future[None]] = {}

    async def once(self, key: Hashable, job: Callable[[], Awaitable[None]]) -> None:
        future = self._jobs.get(key)
        if future is None:
            future = asyncio.ensure_future(job())
            self._jobs[key] = future
            future.add_done_callback(lambda f: self._forget_failed(key, f))
        # shield: one caller being cancelled must not cancel the others' transfer
        await asyncio.shield(future)

    def _forget_failed(self, key: Hashable, future: asyncio.Future[None]) -> None:
        if future.cancelled() or future.exception() is not None:
            self._jobs.pop(key, None)
