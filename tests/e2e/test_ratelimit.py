"""Docker Hub's pull quota and 429s, played by a proxy in front of a real registry.

The proxy (`tests.support.quota_proxy`) adds `RateLimit-Limit` / `RateLimit-Remaining` to
manifest responses and answers 429 with `Retry-After` when told to; every copy is checked
with skopeo against the source's digest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from email.utils import formatdate
from pathlib import Path

import pytest

from dregsy.clock import SystemClock
from dregsy.config.types import Location, RateLimit
from dregsy.reference import Repository, parse_registry
from dregsy.registry import manifests
from dregsy.registry.directory import RegistryDirectory
from dregsy.registry.pool import HttpPool, HttpSettings
from dregsy.registry.retry import RetryPolicy
from dregsy.registry.traffic import RegistryTraffic
from dregsy.sync.quotawait import QuotaWaits
from tests.support import skopeo
from tests.support.dockerd import DockerDaemon
from tests.support.dregsy_cli import Daemon, run
from tests.support.quota_proxy import QuotaProxy
from tests.support.registry import RegistryServer
from tests.support.seed import SeededImages

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]


def _config(
    path: Path, source: str, target: str, ratelimit: str = "", relay: str = "native"
) -> Path:
    path.write_text(
        f"""
relay: {relay}
tasks:
  - name: hub
    source:
      registry: {source}
{ratelimit}
    target:
      registry: {target}
    mappings:
      - from: demo/app
        to: mirror/demo/app
        tags: [v1]
"""
    )
    return path


class _OnLog(logging.Handler):
    """Sets an event when a record containing `needle` is logged."""

    def __init__(self, needle: str, event: asyncio.Event) -> None:
        super().__init__()
        self._needle = needle
        self._event = event

    def emit(self, record: logging.LogRecord) -> None:
        if self._needle in record.getMessage():
            self._event.set()


def _manifest_gets(proxy: QuotaProxy) -> list[float]:
    return [s.at for s in proxy.seen() if s.manifest and s.method == "GET" and s.status == 200]


async def test_quota_headers_and_requests_are_recorded(
    seeded: SeededImages, tmp_path: Path
) -> None:
    with QuotaProxy(seeded.registry, limit=100) as proxy:
        proxy.set_remaining(42)
        traffic = RegistryTraffic()
        pool = HttpPool(HttpSettings(certs_dir=tmp_path), traffic)
        client = RegistryDirectory(pool).source(Location(parse_registry(proxy.host)))
        ref = Repository.parse(client.registry, "demo/app").tag("v1")
        try:
            assert await manifests.head_manifest(client, ref) is not None
            assert traffic.ratelimits() == {proxy.host: (42, 100)}  # HEADs are free
            await manifests.get_manifest(client, ref)
            assert traffic.ratelimits() == {proxy.host: (41, 100)}
        finally:
            await pool.aclose()
    counts = traffic.requests()
    assert counts[(proxy.host, "HEAD", "200")] == 1
    assert counts[(proxy.host, "GET", "200")] == 2  # the /v2/ ping and the manifest
    assert sum(counts.values()) == len(proxy.seen())


@pytest.mark.parametrize("relay", ["native", "skopeo"])
def test_waits_while_the_quota_is_low_then_copies(
    relay: str, seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    with QuotaProxy(seeded.registry, limit=100) as proxy:
        proxy.set_remaining(3)
        limit = "      ratelimit: {min: 5, retry: 1s}"
        config = _config(tmp_path / "c.yaml", proxy.host, target_registry.host, limit, relay)
        daemon = Daemon(config, tmp_path / "dregsy.log")
        try:
            line = f"rate limit: {proxy.host} has 3 of 100 pulls left (min 5), waiting 1s"
            daemon.wait_for(line, count=2)  # it re-checked with a HEAD and waits again
            assert _manifest_gets(proxy) == []  # no pull while below min
            proxy.set_remaining(50)
            assert daemon.process.wait(timeout=30) == 0, daemon.text()
        finally:
            daemon.stop()
    log = daemon.text()
    assert "task hub: 1 copied, 0 skipped, 0 failed" in log
    heads = [s for s in proxy.seen() if s.manifest and s.method == "HEAD"]
    assert len(heads) >= 3  # the first look, and a re-check after each wait
    assert len(_manifest_gets(proxy)) >= 1  # skopeo may also GET what dregsy did
    target = f"{target_registry.host}/mirror/demo/app:v1"
    assert skopeo.digest_of(target) == seeded.digest("demo/app:v1")


def test_sigterm_ends_the_quota_wait(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    with QuotaProxy(seeded.registry) as proxy:
        proxy.set_remaining(0)
        limit = "      ratelimit: {min: 1}"  # retry: the default 5m
        config = _config(tmp_path / "c.yaml", proxy.host, target_registry.host, limit)
        daemon = Daemon(config, tmp_path / "dregsy.log")
        daemon.wait_for(f"rate limit: {proxy.host} has 0 of 100 pulls left (min 1), waiting 5m")
        assert daemon.stop(timeout=10) == 0  # fails the test if it takes longer
    log = daemon.text()
    assert "not copied while the pull quota was low" in log
    assert "Traceback" not in log
    assert _manifest_gets(proxy) == []


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_429_backs_off_then_copies(
    form: str, seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    with QuotaProxy(seeded.registry) as proxy:
        wait = 2
        after = str(wait) if form == "seconds" else formatdate(time.time() + wait, usegmt=True)
        proxy.refuse(1, retry_after=after, method="GET")
        config = _config(tmp_path / "c.yaml", proxy.host, target_registry.host)
        result = run(config)
    assert result.returncode == 0, result.stderr
    assert f"{proxy.host} answered 429 Too Many Requests: pausing all requests" in result.stderr
    refused = [s for s in proxy.seen() if s.status == 429]
    assert len(refused) == 1
    later = [s.at for s in proxy.seen() if s.at > refused[0].at]
    # An HTTP date counts whole seconds of the proxy's clock: at least wait - 1 s.
    assert later
    assert min(later) - refused[0].at >= wait - 1
    target = f"{target_registry.host}/mirror/demo/app:v1"
    assert skopeo.digest_of(target) == seeded.digest("demo/app:v1")


async def test_a_429_pauses_every_client_of_the_registry(
    seeded: SeededImages, tmp_path: Path
) -> None:
    """Two clients of one registry (as two tasks with different settings have): a 429 to
    one holds the other's requests back too."""
    with QuotaProxy(seeded.registry) as proxy:
        pool = HttpPool(HttpSettings(certs_dir=tmp_path, retry=RetryPolicy(jitter=0)))
        directory = RegistryDirectory(pool)
        first = directory.source(Location(parse_registry(proxy.host)))
        second = directory.source(Location(parse_registry(proxy.host), max_connections=2))
        ref = Repository.parse(first.registry, "demo/app").tag("v1")
        try:
            await asyncio.gather(first.base_url(), second.base_url())
            proxy.refuse(1, retry_after="2", method="HEAD")
            paused = asyncio.Event()
            watcher = _OnLog("answered 429", paused)
            logging.getLogger("dregsy.registry.backoff").addHandler(watcher)
            try:
                pending = asyncio.create_task(manifests.head_manifest(first, ref))
                await asyncio.wait_for(paused.wait(), 10)  # the first client has its 429
            finally:
                logging.getLogger("dregsy.registry.backoff").removeHandler(watcher)
            asked = time.monotonic()
            assert await manifests.head_manifest(second, ref) is not None
            assert await pending is not None
        finally:
            await pool.aclose()
    heads = [s for s in proxy.seen() if s.method == "HEAD"]
    assert [s.status for s in heads] == [429, 200, 200]
    refused_at = heads[0].at
    # the second client's HEAD waited for the pause the first client's 429 began
    assert all(s.at - refused_at >= 1.5 for s in heads[1:])
    assert asked - refused_at < 1.5


def test_a_waiting_image_gives_its_slot_to_other_work(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    with QuotaProxy(seeded.registry) as proxy:
        proxy.set_remaining(0)
        config = tmp_path / "c.yaml"
        config.write_text(
            f"""
parallel: 1
tasks:
  - name: hub
    source:
      registry: {proxy.host}
      ratelimit: {{min: 1, retry: 1s}}
    target: {{registry: {target_registry.host}}}
    mappings: [{{from: demo/app, to: from-hub/demo/app, tags: [v1]}}]
  - name: other
    source: {{registry: {seeded.registry.host}}}
    target: {{registry: {target_registry.host}}}
    mappings: [{{from: demo/app, to: other/demo/app, tags: [v1]}}]
"""
        )
        daemon = Daemon(config, tmp_path / "dregsy.log")
        try:
            # With one image slot, the other task copies while the hub image waits.
            daemon.wait_for("task other: 1 copied, 0 skipped, 0 failed")
            assert "task hub:" not in daemon.text()
            proxy.set_remaining(10)
            assert daemon.process.wait(timeout=30) == 0, daemon.text()
        finally:
            daemon.stop()
    assert "task hub: 1 copied, 0 skipped, 0 failed" in daemon.text()
    for prefix in ("from-hub", "other"):
        target = f"{target_registry.host}/{prefix}/demo/app:v1"
        assert skopeo.digest_of(target) == seeded.digest("demo/app:v1")


class _Turns(SystemClock):
    """A clock whose waits return at once, counting them; the quota recovers on the
    `recover_at`-th wait."""

    def __init__(self, proxy: QuotaProxy, recover_at: int) -> None:
        self.waits = 0
        self._proxy = proxy
        self._recover_at = recover_at

    async def wait(self, event: asyncio.Event, seconds: float) -> bool:
        self.waits += 1
        if self.waits == self._recover_at:
            self._proxy.set_remaining(50)
        await asyncio.sleep(0)
        return event.is_set()


async def test_images_waiting_on_one_quota_take_turns(
    seeded: SeededImages, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Three images wait on one low quota: one log line and one HEAD per `retry`, not
    three; once it recovers, all three go on."""
    with QuotaProxy(seeded.registry) as proxy:
        proxy.set_remaining(0)
        pool = HttpPool(HttpSettings(certs_dir=tmp_path))
        location = Location(parse_registry(proxy.host), ratelimit=RateLimit(min=1, retry=60))
        source = RegistryDirectory(pool).source(location)
        repo = Repository.parse(source.registry, "demo/app")
        clock = _Turns(proxy, recover_at=2)
        waits = QuotaWaits(asyncio.Event(), clock)
        try:
            await manifests.head_manifest(source, repo.tag("v1"))  # the registry says 0
            before = len(proxy.seen())
            with caplog.at_level(logging.INFO, logger="dregsy.sync.quotawait"):
                results = await asyncio.gather(
                    *(waits.wait(source, repo.tag(tag)) for tag in ("v1", "v2", "v1"))
                )
        finally:
            await pool.aclose()
    assert results == [True, True, True]
    assert clock.waits == 2
    heads = [s for s in proxy.seen()[before:] if s.method == "HEAD" and s.manifest]
    assert len(heads) == 2
    line = f"rate limit: {proxy.host} has 0 of 100 pulls left (min 1), waiting 1m"
    assert caplog.text.count(line) == 2


def test_sigterm_ends_a_429_pause(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    with QuotaProxy(seeded.registry) as proxy:
        proxy.refuse(4, retry_after="3600", method="GET")  # paused for 60 s, the cap
        config = _config(tmp_path / "c.yaml", proxy.host, target_registry.host)
        daemon = Daemon(config, tmp_path / "dregsy.log")
        daemon.wait_for("pausing all requests to it for 60.0 s")
        assert daemon.stop(timeout=10) in (0, 1)  # fails the test if it takes longer
    assert "Traceback" not in daemon.text()
    assert [s.status for s in proxy.seen() if s.manifest] == [429]


def test_the_docker_relay_waits_too(
    dockerd: DockerDaemon,
    seeded: SeededImages,
    target_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    """The daemon pulls by itself; dregsy's HEADs keep the count and hold the copy back."""
    with QuotaProxy(seeded.registry) as proxy:
        proxy.set_remaining(0)
        config = tmp_path / "c.yaml"
        config.write_text(
            f"""
dockerhost: {dockerd.host}
tasks:
  - name: hub
    source:
      registry: {proxy.host}
      ratelimit: {{min: 1, retry: 1s}}
    target: {{registry: {target_registry.host}}}
    mappings: [{{from: demo/app, to: mirror/demo/app, tags: [v1]}}]
"""
        )
        daemon = Daemon(config, tmp_path / "dregsy.log")
        try:
            daemon.wait_for(f"rate limit: {proxy.host} has 0 of 100 pulls left", count=2)
            assert _manifest_gets(proxy) == []  # neither dregsy nor the daemon pulled
            proxy.set_remaining(10)
            assert daemon.process.wait(timeout=60) == 0, daemon.text()
        finally:
            daemon.stop()
    assert "task hub: 1 copied, 0 skipped, 0 failed" in daemon.text()
    copied = json.loads(skopeo.inspect_raw(f"{target_registry.host}/mirror/demo/app:v1"))
    assert copied["config"]["digest"] == seeded.image("demo/app:v1").config_digest
