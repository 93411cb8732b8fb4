"""Waiting for a source's pull quota (`ratelimit: {min, retry}`) to recover.

An image that would pull while the registry reports fewer than `min` pulls left waits here,
holding no image slot. The images waiting on one quota take turns: the one whose turn it
is logs, sleeps `retry` and re-checks with a HEAD of its source manifest (free on Docker
Hub), while the others wait behind it; once enough pulls are left, each in turn sees so
and goes on. So however many images wait, the registry gets one HEAD and the log one line
per `retry`. A stop request (SIGTERM, a reload) ends every wait at once.
"""

from __future__ import annotations

import asyncio
import logging

from dregsy.clock import Clock
from dregsy.duration import format_duration
from dregsy.errors import DregsyError
from dregsy.reference import Reference
from dregsy.registry import manifests
from dregsy.registry.client import RegistryClient
from dregsy.registry.quota import PullQuota

log = logging.getLogger(__name__)


class QuotaWaits:
    """The quota waits of one configuration's runs."""

    def __init__(self, stop: asyncio.Event, clock: Clock) -> None:
        self._stop = stop
        self._clock = clock
        self._turns: dict[PullQuota, asyncio.Lock] = {}

    async def wait(self, source: RegistryClient, ref: Reference) -> bool:
        """Wait until `source` has enough pulls left; False if a stop request ended it."""
        quota = source.pull_quota
        if quota is None:
            return True
        turn = self._turns.setdefault(quota, asyncio.Lock())
        async with turn:
            while (low := quota.low()) is not None:
                if self._stop.is_set():
                    return False  # (logged by the image whose wait the stop ended)
                log.info("%s, waiting %s", low, format_duration(quota.rule.retry))
                if await self._clock.wait(self._stop, quota.rule.retry):
                    log.info("%s: stopping, not copied while the pull quota was low", ref)
                    return False
                try:
                    if await manifests.head_manifest(source, ref) is None:
                        return True  # the tag is gone: the image's next attempt says so
                except DregsyError:
                    return True  # so does a failed re-check
        return True
