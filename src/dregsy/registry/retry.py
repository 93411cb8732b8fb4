"""Retries at the transport: transient failures are tried again with backoff and jitter.

Connection errors, 408, 429 and 5xx are retried for requests whose body can be replayed,
honouring `Retry-After` (seconds, or an HTTP date read against the response's own `Date`
so a skewed local clock does not matter), each wait capped at `max_retry_after`. A 429
pauses the whole registry (`dregsy.registry.backoff`): every request to it waits, whichever
client or task sends it. 401/403/404 and anything else pass straight through: the auth flow
(above this transport) handles 401 itself, and the rest will not change by asking again.
A request with `retry=False` is sent once.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC

from msgspec import Struct

from dregsy.registry.backoff import RegistryPause
from dregsy.registry.http import Request, Response, Sender, TransportError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class RetryPolicy(Struct, frozen=True):
    """How often and how long to wait: base * factor**n, capped, plus or minus jitter."""

    attempts: int = 4
    base: float = 0.5
    factor: float = 2.0
    cap: float = 10.0
    jitter: float = 0.25  # fraction of the delay, either way
    max_retry_after: float = 60.0  # seconds: the longest one `Retry-After` is honoured

    def backoff(self, attempt: int, rnd: float) -> float:
        delay = min(self.cap, self.base * self.factor**attempt)
        return max(0.0, delay * (1 + self.jitter * (2 * rnd - 1)))


DEFAULT_RETRY = RetryPolicy()


def retry_after(response: Response, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta seconds or an HTTP date).

    A date is measured from the response's `Date` header when it has one (both come from
    the server's clock), else from `now` (seconds since the epoch).
    """
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    server_now = _http_date(response.headers.get("date", ""))
    return max(0.0, when - (now if server_now is None else server_now))


def _http_date(value: str) -> float | None:
    """An HTTP date (`Wed, 21 Oct 2015 07:28:00 GMT`) as seconds since the epoch."""
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # `-0000`: UTC with no zone information, RFC 5322 says
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


class RetrySender:
    """Wraps a sender and retries transient failures of replayable requests."""

    def __init__(
        self,
        inner: Sender,
        policy: RetryPolicy = DEFAULT_RETRY,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        pause: RegistryPause | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._sleep = sleep
        self._rng = rng
        self._pause = pause  # shared by every client of the registry: 429s pause them all
        self._clock = clock

    async def send(self, request: Request) -> Response:
        attempts = self._policy.attempts if request.retry and request.replayable else 1
        attempt = 0
        while True:
            last = attempt + 1 >= attempts
            if self._pause is not None and self._pause.until > 0:
                await self._paused()
            paused = False  # the next attempt waits for a registry-wide pause
            try:
                response = await self._inner.send(request)
            except TransportError as exc:
                if last:
                    raise
                delay = self._policy.backoff(attempt, self._rng())
                reason = type(exc).__name__
            else:
                status = response.status_code
                if status not in RETRY_STATUSES:
                    return response
                after = retry_after(response, time.time())
                if after is not None:
                    delay = min(after, self._policy.max_retry_after)
                else:
                    delay = self._policy.backoff(attempt, self._rng())
                if status == 429 and self._pause is not None:
                    self._pause.hold(self._clock(), delay)
                    paused = True
                if last:
                    return response
                reason = f"HTTP {status}"
                await response.aclose()
            attempt += 1
            log.debug(
                "retrying %s %s after %s in %.2fs (attempt %d of %d)",
                request.method,
                request.url.with_query(None),
                reason,
                delay,
                attempt + 1,
                attempts,
            )
            if not paused:
                await self._sleep(delay)

    async def _paused(self) -> None:
        """Wait while the registry is paused, also when another request extends the pause."""
        pause = self._pause
        waited_for = 0.0
        while pause is not None and pause.until > waited_for:
            left = pause.until - self._clock()
            if left <= 0:
                return
            waited_for = pause.until
            await self._sleep(left)

    async def aclose(self) -> None:
        await self._inner.aclose()
