"""Registry-wide pauses: after a 429, every request to that registry waits, not just one.

A registry that answers 429 Too Many Requests is overloaded or enforcing a quota for the
whole client, so the requests of every task and every client of that registry hold back
together until its `Retry-After` (or the retry backoff) has passed. Each pause is capped by
the retry policy (`RetryPolicy.max_retry_after`), so a wild `Retry-After` cannot stall the
process; a request still answered 429 after its attempts fails with that answer.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class RegistryPause:
    """Until when (on the monotonic clock) one registry is not to be asked anything."""

    def __init__(self, registry: str) -> None:
        self.registry = registry
        self.until = 0.0

    def hold(self, now: float, seconds: float) -> None:
        """Ask nothing for `seconds` from `now` (a later pause already set is kept)."""
        until = now + seconds
        if until > self.until + 0.5:  # a new pause, not the echo of concurrent 429s
            log.warning(
                "%s answered 429 Too Many Requests: pausing all requests to it for %.1f s",
                self.registry,
                seconds,
            )
        self.until = max(self.until, until)


class RegistryPauses:
    """One `RegistryPause` per registry (host[:port]), shared by all its clients."""

    def __init__(self) -> None:
        self._pauses: dict[str, RegistryPause] = {}

    def for_registry(self, registry: str) -> RegistryPause:
        pause = self._pauses.get(registry)
        if pause is None:
            pause = self._pauses[registry] = RegistryPause(registry)
        return pause
