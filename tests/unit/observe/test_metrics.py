from __future__ import annotations

from collections.abc import Mapping

from msgspec.structs import replace
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from dregsy.observe.events import Listeners
from dregsy.observe.metrics import TaskMetrics, TrafficCollector, new_registry
from dregsy.observe.results import ImageOutcome
from tests.unit.observe.support import image, run, task

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _samples(text: bytes) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


class Traffic:
    """A traffic source with fixed numbers (what registry/traffic.py keeps for real)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], int] = {}
        self.limits: dict[str, tuple[int, int | None]] = {}

    def requests(self) -> Mapping[tuple[str, str, str], int]:
        return self.counts

    def ratelimits(self) -> Mapping[str, tuple[int, int | None]]:
        return self.limits


def test_counts_runs_images_bytes_and_times() -> None:
    registry = new_registry()
    metrics = TaskMetrics(registry)
    events = Listeners([metrics])
    events.configured([task("a", 60), task("b")])
    first = run(
        "a",
        image("a", "v1", ImageOutcome.COPIED, size=100),
        image("a", "v2", ImageOutcome.SKIPPED, referrers=2),
        image("a", "v3", ImageOutcome.FAILED, error="boom"),
    )
    for result in first.images:
        events.image_done(result)
    events.run_finished(first)
    events.next_run("a", 5000.0)
    second = run("a", image("a", "v1", ImageOutcome.COPIED, size=50, referrers=1), started=2000.0)
    for result in second.images:
        events.image_done(result)
    events.run_finished(second)
    samples = _samples(generate_latest(registry))

    def value(name: str, **labels: str) -> float | None:
        return samples.get((name, tuple(sorted(labels.items()))))

    assert value("dregsy_images_total", task="a", result="copied") == 2
    assert value("dregsy_images_total", task="a", result="skipped") == 1
    assert value("dregsy_images_total", task="a", result="failed") == 1
    assert value("dregsy_bytes_copied_total", task="a") == 150
    assert value("dregsy_referrers_copied_total", task="a") == 3
    assert value("dregsy_task_runs_total", task="a", result="failure") == 1
    assert value("dregsy_task_runs_total", task="a", result="success") == 1
    assert value("dregsy_task_duration_seconds_count", task="a") == 2
    assert value("dregsy_task_duration_seconds_sum", task="a") == 5.0
    assert value("dregsy_task_last_success_timestamp_seconds", task="a") == 2002.5
    assert value("dregsy_task_next_run_timestamp_seconds", task="a") == 5000.0
    # b never ran: its counters exist at 0, it has no times
    assert value("dregsy_task_runs_total", task="b", result="success") == 0
    assert value("dregsy_images_total", task="b", result="failed") == 0
    assert value("dregsy_referrers_copied_total", task="b") == 0
    assert value("dregsy_task_last_success_timestamp_seconds", task="b") is None
    # the process metrics come from the client library
    assert value("process_cpu_seconds_total") is not None
    assert any(name == "python_info" for name, _ in samples)

    events.next_run("a", None)  # stopped: no next run
    events.next_run("b", None)  # never had one: nothing to remove
    samples = _samples(generate_latest(registry))
    assert value("dregsy_task_next_run_timestamp_seconds", task="a") is None


def test_two_apps_have_their_own_registries() -> None:
    one, two = new_registry(), new_registry()
    TaskMetrics(one).image_done(image("a", "v1", ImageOutcome.COPIED))
    TaskMetrics(two)  # would raise "Duplicated timeseries" on one shared registry
    assert b'dregsy_images_total{result="copied",task="a"} 1.0' in generate_latest(one)
    assert b"dregsy_images_total{" not in generate_latest(two)


def test_registry_traffic_is_read_at_scrape_time() -> None:
    registry = new_registry()
    traffic = Traffic()
    registry.register(TrafficCollector(traffic))
    assert b"dregsy_registry_requests_total{" not in generate_latest(registry)
    traffic.counts[("docker.io", "HEAD", "200")] = 7
    traffic.counts[("ghcr.io", "GET", "429")] = 1
    traffic.limits["docker.io"] = (93, 100)
    samples = _samples(generate_latest(registry))
    key = (
        "dregsy_registry_requests_total",
        (("code", "200"), ("method", "HEAD"), ("registry", "docker.io")),
    )
    assert samples[key] == 7
    key = (
        "dregsy_registry_requests_total",
        (("code", "429"), ("method", "GET"), ("registry", "ghcr.io")),
    )
    assert samples[key] == 1
    assert samples[("dregsy_registry_ratelimit_remaining", (("registry", "docker.io"),))] == 93


def test_tasks_with_the_same_name_keep_apart_by_label() -> None:
    registry = new_registry()
    events = Listeners([TaskMetrics(registry)])
    second = replace(task("mirror"), unique_name="mirror#2")
    events.configured([task("mirror"), second])
    tasks = {dict(labels).get("task") for _, labels in _samples(generate_latest(registry))}
    assert {"mirror", "mirror#2"} <= tasks
