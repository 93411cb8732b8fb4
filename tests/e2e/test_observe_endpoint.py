"""`-listen`: /metrics counts match the registries' access logs; probes; status JSON;
a bad address or a port in use is exit status 2 before anything syncs."""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.accesslog import AccessLogEntry, count
from tests.support.dregsy_cli import Daemon, run
from tests.support.hostile_registry import HostileRegistry
from tests.support.quota_proxy import QuotaProxy
from tests.support.registry import RegistryServer
from tests.support.seed import SeededImages

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]


def _config(path: Path, source: str, target: str, hostile: str, *, listen: str = "") -> Path:
    top = f"listen: '{listen}'\n" if listen else ""
    path.write_text(
        f"""{top}
tasks:
  - name: mirror
    interval: 3600
    source: {{registry: {source}}}
    target: {{registry: {target}}}
    mappings:
      - {{from: demo/app, to: mirror/demo/app}}
      - {{from: demo/multi, to: mirror/demo/multi}}
  - name: broken
    interval: 3600
    source: {{registry: {hostile}}}
    target: {{registry: {target}}}
    mappings:
      - {{from: locked/app, to: mirror/locked, tags: [v1]}}
"""
    )
    return path


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    with HostileRegistry() as server:
        yield server


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback test URL)
        return response.status, response.headers.get("Content-Type", ""), response.read().decode()


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(base: str) -> Samples:
    """Every sample of /metrics, parsed by prometheus_client's text parser."""
    status, content_type, text = _get(base + "metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def _requests_metric(samples: Samples, registry: str) -> dict[tuple[str, str], float]:
    """dregsy_registry_requests_total of one registry, by (method, code)."""
    found = {}
    for (name, labels), number in samples.items():
        label = dict(labels)
        if name == "dregsy_registry_requests_total" and label["registry"] == registry:
            found[(label["method"], label["code"])] = number
    return found


def _by_method_and_status(requests: Iterable[tuple[str, int]]) -> dict[tuple[str, str], float]:
    return dict(Counter((method, str(status)) for method, status in requests))


def _tag_pushes(entries: list[AccessLogEntry]) -> int:
    """Manifest PUTs by tag (an index's platform manifests go by digest first)."""
    return sum(
        1
        for e in entries
        if e.method == "PUT"
        and e.endpoint == "manifests"
        and e.status == 201
        and not (e.reference or "").startswith("sha256:")
    )


def _blob_bytes(entries: list[AccessLogEntry]) -> int:
    return sum(
        e.size for e in entries if e.method == "GET" and e.endpoint == "blobs" and e.status == 200
    )


def test_metrics_follow_the_registries_access_logs(
    seeded: SeededImages, target_registry: RegistryServer, hostile: HostileRegistry, tmp_path: Path
) -> None:
    source = seeded.registry
    proxy = QuotaProxy(source, limit=100).start()  # Docker Hub's quota headers
    proxy.set_remaining(77)
    config = _config(tmp_path / "config.yaml", proxy.host, target_registry.host, hostile.host)
    source.clear_requests()
    target_registry.clear_requests()
    before = time.time()
    daemon = Daemon(config, tmp_path / "dregsy.log", args=["-listen=127.0.0.1:0"])
    try:
        base = daemon.endpoint()
        daemon.wait_for("task mirror: 3 copied")
        daemon.wait_for("task broken: 0 copied, 0 skipped, 1 failed")
        samples = scrape(base)
        src_log, dst_log = source.requests(), target_registry.requests()

        # Registry traffic: every request dregsy made, by registry, method and status.
        assert _requests_metric(samples, target_registry.host) == _by_method_and_status(
            (e.method, e.status) for e in dst_log
        )
        assert _requests_metric(samples, proxy.host) == _by_method_and_status(
            (seen.method, seen.status) for seen in proxy.seen()
        )
        assert _requests_metric(samples, hostile.host) == {("GET", "200"): 1, ("GET", "403"): 1}
        pulls = sum(1 for seen in proxy.seen() if seen.manifest and seen.method == "GET")
        assert pulls == 5  # two images, an index and its two platform manifests
        remaining = value(samples, "dregsy_registry_ratelimit_remaining", registry=proxy.host)
        assert remaining == 77 - pulls

        copied = _tag_pushes(dst_log)
        assert copied == 3
        assert value(samples, "dregsy_images_total", task="mirror", result="copied") == copied
        assert value(samples, "dregsy_images_total", task="mirror", result="skipped") == 0
        assert value(samples, "dregsy_images_total", task="mirror", result="failed") == 0
        assert value(samples, "dregsy_images_total", task="broken", result="failed") == 1
        moved = _blob_bytes(src_log)
        assert moved > 0
        assert value(samples, "dregsy_bytes_copied_total", task="mirror") == moved
        assert value(samples, "dregsy_task_runs_total", task="mirror", result="success") == 1
        assert value(samples, "dregsy_task_runs_total", task="mirror", result="failure") == 0
        assert value(samples, "dregsy_task_runs_total", task="broken", result="failure") == 1
        assert value(samples, "dregsy_task_duration_seconds_count", task="mirror") == 1
        last_success = value(samples, "dregsy_task_last_success_timestamp_seconds", task="mirror")
        assert last_success is not None
        assert before <= last_success <= time.time()
        assert value(samples, "dregsy_task_last_success_timestamp_seconds", task="broken") is None
        next_run = value(samples, "dregsy_task_next_run_timestamp_seconds", task="mirror")
        assert next_run is not None
        assert before + 3590 <= next_run <= time.time() + 3600
        assert value(samples, "process_cpu_seconds_total") is not None  # the client's own
        assert value(samples, "process_resident_memory_bytes") is not None

        assert _get(base + "healthz")[0] == 200
        assert _get(base + "readyz")[0] == 200
        status = json.loads(_get(base + "api/status")[2])
        tasks = {t["name"]: t for t in status["tasks"]}
        assert tasks["mirror"]["last_run"]["copied"] == 3
        assert tasks["mirror"]["last_run"]["result"] == "success"
        assert tasks["broken"]["last_run"]["result"] == "failure"
        failure = tasks["broken"]["last_run"]["failures"][0]
        assert failure["source"] == f"{hostile.host}/locked/app:v1"
        assert "not allowed" in failure["error"]

        # A reload runs both tasks again: nothing changed, so the counters only add skips.
        source.clear_requests()
        target_registry.clear_requests()
        daemon.signal(signal.SIGHUP)
        daemon.wait_for("task mirror: 0 copied, 3 skipped", timeout=30)
        daemon.wait_for("task broken: 0 copied, 0 skipped, 1 failed", count=2)
        samples = scrape(base)
        heads = count(source.requests(), method="HEAD", endpoint="manifests")
        assert heads == 3
        assert value(samples, "dregsy_images_total", task="mirror", result="skipped") == heads
        assert value(samples, "dregsy_images_total", task="mirror", result="copied") == 3
        assert value(samples, "dregsy_task_runs_total", task="mirror", result="success") == 2
        assert value(samples, "dregsy_task_runs_total", task="broken", result="failure") == 2
        assert value(samples, "dregsy_bytes_copied_total", task="mirror") == moved
        assert _tag_pushes(target_registry.requests()) == 0
        assert _requests_metric(samples, proxy.host) == _by_method_and_status(
            (seen.method, seen.status)
            for seen in proxy.seen()  # both runs
        )
    finally:
        status_code = daemon.stop()
        proxy.stop()
    assert status_code == 1  # the broken task failed


def test_flag_wins_over_the_config_key(
    seeded: SeededImages, target_registry: RegistryServer, hostile: HostileRegistry, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        config = _config(
            tmp_path / "config.yaml",
            seeded.registry.host,
            target_registry.host,
            hostile.host,
            listen=busy,
        )
        daemon = Daemon(config, tmp_path / "dregsy.log", args=["-listen=127.0.0.1:0"])
        try:
            base = daemon.endpoint()
            assert _get(base + "healthz")[0] == 200
        finally:
            daemon.stop()


def test_port_in_use_is_exit_2_before_anything_syncs(
    seeded: SeededImages, target_registry: RegistryServer, hostile: HostileRegistry, tmp_path: Path
) -> None:
    source = seeded.registry
    config = _config(tmp_path / "config.yaml", source.host, target_registry.host, hostile.host)
    source.clear_requests()
    target_registry.clear_requests()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(config, f"-listen=127.0.0.1:{port}")
    assert result.returncode == 2, result.stderr
    assert f"dregsy: error: cannot listen on 127.0.0.1:{port}: " in result.stderr
    assert "in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert source.requests() == []
    assert target_registry.requests() == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("9090", "-listen must be [HOST]:PORT"),
        (":99999", "-listen has an invalid port '99999'"),
        ("::1:9090", "-listen must put an IPv6 address in brackets"),
        ("exa mple:80", "-listen has an invalid host 'exa mple'"),
    ],
)
def test_bad_listen_flag_is_a_usage_error(tmp_path: Path, value: str, message: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("tasks: []\n")
    result = run(config, f"-listen={value}")
    assert result.returncode == 2
    assert message in result.stderr, result.stderr


def test_bad_listen_key_names_its_line(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "relay: native\nlisten: 'localhost'\ntasks:\n  - name: t\n    source: {registry: a.io}\n"
        "    target: {registry: b.io}\n    mappings: [{from: x}]\n"
    )
    result = run(config)
    assert result.returncode == 2
    assert "line 2: listen: must be [HOST]:PORT, e.g. ':9090' or '127.0.0.1:9090'" in result.stderr
