"""Retries at the transport: transient failures are tried again with backoff and jitter.

Connection errors, 408, 429 and 5xx are retried for requests whose body can be replayed,
honouring `Retry-After`. 401/403/404 and anything else pass straight through: the auth flow
(above this transport) handles 401 itself, and the rest will not change by asking again.
A request marked with the `dregsy.no_retry` extension is sent once.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

log = logging.getLogger(__name__)

NO_RETRY = "dregsy.no_retry"
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait: base * factor**n, capped, plus or minus jitter."""

    attempts: int = 4
    base: float = 0.5
    factor: float = 2.0
    cap: float = 10.0
    jitter: float = 0.25  # fraction of the delay, either way
    max_retry_after: float = 60.0

    def backoff(self, attempt: int, rnd: float) -> float:
        delay = min(self.cap, self.base * self.factor**attempt)
        return max(0.0, delay * (1 + self.jitter * (2 * rnd - 1)))


def retry_after(response: httpx.Response, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta seconds or an HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


class RetryTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and retries transient failures of replayable requests."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        policy: RetryPolicy = RetryPolicy(),
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._inner = inner
        self._policy = policy
        self._sleep = sleep
        self._rng = rng

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        replayable = isinstance(request.stream, httpx.ByteStream)
        attempts = (
            1 if request.extensions.get(NO_RETRY) or not replayable else self._policy.attempts
        )
        attempt = 0
        while True:
            last = attempt + 1 >= attempts
            try:
                response = await self._inner.handle_async_request(request)
            except httpx.TransportError as exc:
                if last:
                    raise
                delay = self._policy.backoff(attempt, self._rng())
                reason = type(exc).__name__
            else:
                if response.status_code not in RETRY_STATUSES or last:
                    return response
                after = retry_after(response, time.time())
                if after is not None:
                    delay = min(after, self._policy.max_retry_after)
                else:
                    delay = self._policy.backoff(attempt, self._rng())
                reason = f"HTTP {response.status_code}"
                await response.aclose()
            attempt += 1
            log.debug(
                "retrying %s %s after %s in %.2fs (attempt %d of %d)",
                request.method,
                request.url.copy_with(query=None),
                reason,
                delay,
                attempt + 1,
                attempts,
            )
            await self._sleep(delay)

    async def aclose(self) -> None:
        await self._inner.aclose()
