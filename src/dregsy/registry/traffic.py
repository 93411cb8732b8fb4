"""What dregsy asked the registries, and what they said about their pull quota.

`RegistryTraffic` counts every HTTP response from a registry by (registry, method, status)
and keeps the last `RateLimit-Limit` / `RateLimit-Remaining` each registry sent (Docker Hub
sends them on manifest responses, HEAD included, as `100;w=21600`). Concurrent requests can
be answered in one order and recorded in another, so a response to a request that was sent
before the kept count arrived can only lower it; a later request replaces it (the registry's
window may have reset). The App owns one for
the life of the process, so counts survive config reloads; the metrics exporter reads it
and the pull-quota wait (`dregsy.sync.quota`) asks it how many pulls are left.

A registry is named by the host[:port] its location names (`registry-1.docker.io` for
Docker Hub); a request that went elsewhere on its behalf (a token server, a blob store a
redirect pointed to) is counted under that host's own name.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping

from dregsy.reference import Registry
from dregsy.registry.http import Request, Response, Sender, netloc


def quota_number(value: str | None) -> int | None:
    """The count of a quota header: `100;w=21600` → 100, `76` → 76; None if unreadable."""
    if value is None:
        return None
    head = value.split(";", 1)[0].split(",", 1)[0].strip()
    return int(head) if head.isdigit() else None


class RegistryTraffic:
    """Request counts and the last pull quota seen, per registry."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._requests: Counter[tuple[str, str, str]] = Counter()
        self._ratelimits: dict[str, tuple[int, int | None]] = {}
        self._kept_at: dict[str, float] = {}  # when each kept count arrived

    def now(self) -> float:
        """The clock `record(sent_at=...)` compares with."""
        return self._clock()

    def record(
        self,
        registry: str,
        method: str,
        status: int,
        headers: Mapping[str, str],
        sent_at: float | None = None,
    ) -> None:
        """One response: count it, and keep its quota headers if it has them. `sent_at`
        (from `now()`) is when its request went out; None means after everything so far."""
        self._requests[(registry, method, str(status))] += 1
        remaining = quota_number(headers.get("ratelimit-remaining"))
        if remaining is None:
            return
        kept = self._ratelimits.get(registry)
        overlapped = sent_at is not None and sent_at < self._kept_at.get(registry, sent_at)
        if kept is not None and overlapped and kept[0] < remaining:
            return  # answered before the count we keep, recorded after it
        self._ratelimits[registry] = (remaining, quota_number(headers.get("ratelimit-limit")))
        self._kept_at[registry] = self._clock()

    def requests(self) -> Mapping[tuple[str, str, str], int]:
        """(registry, method, status code as text, e.g. "200") → responses so far."""
        return dict(self._requests)

    def ratelimits(self) -> Mapping[str, tuple[int, int | None]]:
        """registry → (remaining, limit) from its last response that said; limit may be
        None when only `RateLimit-Remaining` was sent."""
        return dict(self._ratelimits)

    def ratelimit(self, registry: str) -> tuple[int, int | None] | None:
        """The last (remaining, limit) seen from one registry, if it ever said."""
        return self._ratelimits.get(registry)


class TrafficSender:
    """Records every response that passes through it (below retries: each attempt counts)."""

    def __init__(self, inner: Sender, registry: Registry, traffic: RegistryTraffic) -> None:
        self._inner = inner
        self._label = registry.api_host
        self._hostname = Registry(host=registry.api_host).hostname.lower()
        self._traffic = traffic

    async def send(self, request: Request) -> Response:
        sent_at = self._traffic.now()
        response = await self._inner.send(request)
        url = request.url
        label = self._label if url.host == self._hostname else netloc(url)
        self._traffic.record(
            label, request.method, response.status_code, response.headers, sent_at=sent_at
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()
