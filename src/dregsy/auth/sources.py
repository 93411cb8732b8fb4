"""Credential sources: where a registry's username and password come from.

A `CredentialSource` is asked for credentials whenever the auth flow needs them; it may
cache them and fetch new ones when they expire (ECR, Google) or when told they were refused
(`invalidate`). The auth flow compares what it gets with what it had and forgets its bearer
tokens when the identity changed. Sources never put a secret into an exception or a log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from dregsy.credentials import Credentials
from dregsy.errors import AuthError

WallClock = Callable[[], float]  # seconds since the epoch, like time.time
Fetch = Callable[[], Awaitable[tuple[Credentials | None, float]]]

# Credentials are kept at least this long, whatever expiry their issuer states: with a
# skewed clock (or a test double that says "expired in 2015") every request would fetch.
MIN_HOLD = 60.0
# A refusal makes the next `get` fetch anew, but not more often than this: a wrong password
# must not turn every failing request into an AWS call or a helper run.
REFETCH_AFTER = 10.0


class CredentialSource(Protocol):
    """Credentials for one registry location; None means anonymous."""

    @property
    def label(self) -> str:
        """Where the credentials come from, for messages (never the credentials)."""
        ...

    async def get(self) -> Credentials | None:
        """The credentials to use now (cached, or fetched when missing or expiring)."""
        ...

    def invalidate(self) -> None:
        """The registry refused the last credentials: fetch new ones on the next `get`."""
        ...


class StaticSource(CredentialSource):
    """Fixed credentials (`auth`, `auth-file`), or anonymous access with None."""

    def __init__(self, credentials: Credentials | None, label: str = "auth") -> None:
        self._credentials = credentials
        self._label = label if credentials is not None else "anonymous access"

    @property
    def label(self) -> str:
        return self._label

    async def get(self) -> Credentials | None:
        return self._credentials

    def invalidate(self) -> None:
        return None


class Renewing:
    """Credentials held until a deadline, then fetched again; one fetch at a time.

    `fetch` returns the credentials and the wall-clock time until which they may be used.
    Callers arriving while a fetch runs wait for it and share its result.
    """

    def __init__(self, fetch: Fetch, clock: WallClock = time.time) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = asyncio.Lock()
        self._credentials: Credentials | None = None
        self._valid_until = float("-inf")
        self._fetched_at = float("-inf")
        self._failure: tuple[float, AuthError] | None = None
        self.fetches = 0  # how often credentials were fetched (for logs and tests)

    async def get(self) -> Credentials | None:
        if self._clock() < self._valid_until:
            return self._credentials
        async with self._lock:
            if self._clock() >= self._valid_until:
                # A failure answers for a few seconds, so the images of a task fail
                # together instead of each asking AWS (or a helper) again.
                if self._failure is not None and self._clock() < self._failure[0]:
                    failure = self._failure[1]
                    raise type(failure)(*failure.args)
                try:
                    credentials, valid_until = await self._fetch()
                except AuthError as exc:
                    self._failure = (self._clock() + REFETCH_AFTER, exc)
                    raise
                self._failure = None
                self._credentials = credentials
                self._fetched_at = self._clock()
                self._valid_until = max(valid_until, self._fetched_at + MIN_HOLD)
                self.fetches += 1
        return self._credentials

    def invalidate(self) -> None:
        self._valid_until = min(self._valid_until, self._fetched_at + REFETCH_AFTER)
