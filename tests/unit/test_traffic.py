from __future__ import annotations

import ssl

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict
from yarl import URL

from dregsy.config.types import RateLimit
from dregsy.errors import PullQuotaLowError
from dregsy.reference import Registry
from dregsy.registry.http import Request
from dregsy.registry.quota import PullQuota
from dregsy.registry.retry import RetryPolicy, RetrySender
from dregsy.registry.session import Session
from dregsy.registry.traffic import RegistryTraffic, TrafficSender, quota_number


@pytest.mark.parametrize(
    ("value", "number"),
    [("100;w=21600", 100), ("76", 76), (" 0;w=21600 ", 0), ("", None), ("x;w=1", None)],
)
def test_quota_number(value: str, number: int | None) -> None:
    assert quota_number(value) == number


def test_records_requests_and_the_last_quota() -> None:
    traffic = RegistryTraffic()
    quota = {"RateLimit-Limit": "100;w=21600", "RateLimit-Remaining": "76;w=21600"}
    traffic.record("registry-1.docker.io", "HEAD", 200, CIMultiDict(quota))
    traffic.record("registry-1.docker.io", "GET", 200, CIMultiDict())
    traffic.record("registry-1.docker.io", "GET", 200, CIMultiDict({"ratelimit-remaining": "5"}))
    assert traffic.requests() == {
        ("registry-1.docker.io", "HEAD", "200"): 1,
        ("registry-1.docker.io", "GET", "200"): 2,
    }
    assert traffic.ratelimits() == {"registry-1.docker.io": (5, None)}


async def test_every_attempt_is_counted_under_the_registry_or_the_host_asked() -> None:
    answers = iter([503, 200, 200])

    async def network(request: web.Request) -> web.Response:
        return web.Response(status=next(answers), headers={"RateLimit-Remaining": "9;w=60"})

    async def sleep(seconds: float) -> None:
        pass

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", network)
    async with TestServer(app, host="127.0.0.1") as server:
        port = server.port
        registry = f"127.0.0.1:{port}"
        traffic = RegistryTraffic()
        wire = Session(
            tls=ssl.create_default_context, max_connections=2, connect_timeout=5, read_timeout=5
        )
        recording = TrafficSender(wire, Registry(host=registry), traffic)
        sender = RetrySender(recording, RetryPolicy(jitter=0), sleep=sleep)
        for method, url in [
            ("HEAD", f"http://{registry}/v2/library/a/manifests/1"),
            ("GET", f"http://localhost:{port}/token"),  # another host name
        ]:
            await (await sender.send(Request(method, URL(url)))).aread()
        await sender.aclose()
    assert traffic.requests() == {
        (registry, "HEAD", "503"): 1,
        (registry, "HEAD", "200"): 1,
        (f"localhost:{port}", "GET", "200"): 1,
    }
    assert traffic.ratelimits()[registry] == (9, None)


def test_pull_quota_is_low_only_below_min_of_what_the_registry_said() -> None:
    traffic = RegistryTraffic()
    quota = PullQuota("registry-1.docker.io", RateLimit(min=10, retry=60), traffic)
    assert quota.unknown()
    assert quota.low() is None  # nothing said: not low
    quota.check()
    quota.probed()
    assert not quota.unknown()  # asked once; the registry sends no quota
    traffic.record("registry-1.docker.io", "HEAD", 200, {"ratelimit-remaining": "10"})
    assert quota.low() is None
    headers = {"ratelimit-remaining": "9;w=21600", "ratelimit-limit": "100;w=21600"}
    traffic.record("registry-1.docker.io", "HEAD", 200, headers)
    traffic.record("ghcr.io", "HEAD", 200, {"ratelimit-remaining": "50"})
    with pytest.raises(PullQuotaLowError) as info:
        quota.check()
    assert str(info.value) == "rate limit: registry-1.docker.io has 9 of 100 pulls left (min 10)"


def test_a_concurrent_answer_recorded_late_cannot_raise_the_count() -> None:
    now = [0.0]
    traffic = RegistryTraffic(clock=lambda: now[0])
    hub = "registry-1.docker.io"
    first, second = traffic.now(), traffic.now()  # two requests in flight at once
    now[0] = 1.0
    traffic.record(hub, "GET", 200, {"ratelimit-remaining": "72"}, sent_at=second)
    now[0] = 2.0
    traffic.record(hub, "GET", 200, {"ratelimit-remaining": "73"}, sent_at=first)
    assert traffic.ratelimit(hub) == (72, None)
    traffic.record(hub, "GET", 200, {"ratelimit-remaining": "71"}, sent_at=first)
    assert traffic.ratelimit(hub) == (71, None)  # lower is always newer news
    later = traffic.now()  # sent after the kept count arrived: the window may have reset
    now[0] = 3.0
    traffic.record(hub, "GET", 200, {"ratelimit-remaining": "100"}, sent_at=later)
    assert traffic.ratelimit(hub) == (100, None)
