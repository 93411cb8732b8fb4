"""Repository lists for regex mappings, cached per source as dregsy's `RepoList` does.

A list is reused for `lister.cacheDuration` (None: never), and holds at most
`lister.maxItems` repositories (-1: all); a list cut at that limit is logged, since regex
mappings then miss repositories. Concurrent runs with the same source list it once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from dregsy.config.types import ListerSettings, Location
from dregsy.listers.base import RepositoryLister

log = logging.getLogger(__name__)

MakeLister = Callable[[Location], Awaitable[RepositoryLister]]


class RepositoryLists:
    """The repository lists of one config's sources; owned by the app, one per config."""

    def __init__(
        self,
        make_lister: MakeLister,
        settings: ListerSettings,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make_lister = make_lister
        self._settings = settings
        self._clock = clock
        self._cache: dict[Location, tuple[float, list[str]]] = {}
        self._locks: dict[Location, asyncio.Lock] = {}
        self._warned = False

    async def repositories(self, location: Location) -> list[str]:
        """The repositories of `location` (a task's source), from its lister or the cache."""
        cached = self._cached(location)
        if cached is not None:
            return cached
        async with self._locks.setdefault(location, asyncio.Lock()):
            cached = self._cached(location)
            if cached is not None:
                return cached
            self._warn_once()
            names = await self._list(location)
            duration = self._settings.cache_duration
            if duration is not None:
                self._cache[location] = (self._clock() + duration, names)
            return list(names)

    def _cached(self, location: Location) -> list[str] | None:
        entry = self._cache.get(location)
        if entry is None or self._clock() >= entry[0]:
            return None
        log.debug("%s: repository list still valid, reusing it", location.registry)
        return list(entry[1])

    async def _list(self, location: Location) -> list[str]:
        limit = None if self._settings.max_items < 0 else self._settings.max_items
        lister = await self._make_lister(location)
        # one more than the limit tells whether the limit cut the list
        names = await lister.repositories(None if limit is None else limit + 1)
        if limit is not None and len(names) > limit:
            log.warning(
                "%s: the %s lister found more than %d repositories and stopped there; regex "
                "mappings may miss some (raise lister.maxItems, or -1 for no limit)",
                location.registry,
                location.lister.kind,
                limit,
            )
            names = names[:limit]
        log.debug("%s: %d repositories listed", location.registry, len(names))
        return names

    def _warn_once(self) -> None:
        if self._warned:
            return
        self._warned = True
        if self._settings.max_items < 0:
            log.warning("lister.maxItems is unlimited: listing may cause heavy traffic")
        if self._settings.cache_duration is None:
            log.warning("lister cache is off: every run lists repositories again")
