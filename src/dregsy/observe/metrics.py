"""Prometheus metrics, made with prometheus-client on a registry of the app's own.

`TaskMetrics` is a listener: it counts runs, images and bytes as the runner reports them.
`TrafficCollector` reads the registry traffic counters (requests by registry, method and
status code; the rate-limit headers last seen) from whatever keeps them, at scrape time.
`new_registry` makes the `CollectorRegistry` with the process and platform metrics.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from dregsy.config.types import Task
from dregsy.observe.events import Listener
from dregsy.observe.results import ImageOutcome, ImageResult, RunOutcome, TaskRun

# A task run takes from a fraction of a second (a no-op) to hours (a first copy).
DURATION_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)


class TrafficSource(Protocol):
    """Registry traffic as counted by the registry clients."""

    def requests(self) -> Mapping[tuple[str, str, str], int]:
        """(registry, method, status code) -> requests so far."""
        ...

    def ratelimits(self) -> Mapping[str, tuple[int, int | None]]:
        """registry -> (remaining, limit) from the last rate-limit headers it sent."""
        ...


def new_registry() -> CollectorRegistry:
    """A registry of this app's own (not the global default), with process metrics."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def shard_info(registry: CollectorRegistry, index: int, count: int) -> None:
    """`dregsy_shard_info{index="2",count="4"} 1`: which shard this process syncs."""
    info = Info(
        "dregsy_shard",
        "The shard of the (task, repository) work units this process syncs (-shard=I/N).",
        registry=registry,
    )
    info.info({"index": str(index), "count": str(count)})


class TaskMetrics(Listener):
    """`dregsy_task_*`, `dregsy_images_total` and `dregsy_bytes_copied_total`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.runs = Counter(
            "dregsy_task_runs",
            "Task runs, by result (failure: some image or mapping failed).",
            ["task", "result"],
            registry=registry,
        )
        self.images = Counter(
            "dregsy_images",
            "Images handled by task runs, by result (copied, skipped, failed); a mapping "
            "that failed before its images were known counts as one failed image.",
            ["task", "result"],
            registry=registry,
        )
        self.bytes = Counter(
            "dregsy_bytes_copied",
            "Bytes of blobs copied to the target.",
            ["task"],
            registry=registry,
        )
        self.duration = Histogram(
            "dregsy_task_duration_seconds",
            "How long task runs took.",
            ["task"],
            registry=registry,
            buckets=DURATION_BUCKETS,
        )
        self.last_success = Gauge(
            "dregsy_task_last_success_timestamp_seconds",
            "When the task's last run without failures ended (seconds since the epoch).",
            ["task"],
            registry=registry,
        )
        self.next_run_at = Gauge(
            "dregsy_task_next_run_timestamp_seconds",
            "When the task runs next (seconds since the epoch); absent when it will not.",
            ["task"],
            registry=registry,
        )

    def configured(self, tasks: Sequence[Task]) -> None:
        """Every configured task's series exist from the start, at 0."""
        for task in tasks:
            for run_result in RunOutcome:
                self.runs.labels(task.label, run_result)
            for image_result in ImageOutcome:
                self.images.labels(task.label, image_result)
            self.bytes.labels(task.label)
            self.duration.labels(task.label)

    def image_done(self, result: ImageResult) -> None:
        self.images.labels(result.task, result.outcome).inc()
        if result.bytes:
            self.bytes.labels(result.task).inc(result.bytes)

    def run_finished(self, run: TaskRun) -> None:
        self.runs.labels(run.task, run.outcome).inc()
        self.duration.labels(run.task).observe(run.duration)
        if run.outcome is RunOutcome.SUCCESS:
            self.last_success.labels(run.task).set(run.finished)

    def next_run(self, task: str, at: float | None) -> None:
        if at is None:
            self.next_run_at.remove(task)  # a no-op when the task has no next run
        else:
            self.next_run_at.labels(task).set(at)


class TrafficCollector(Collector):
    """`dregsy_registry_requests_total` and `dregsy_registry_ratelimit_remaining`."""

    def __init__(self, source: TrafficSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "dregsy_registry_requests",
            "HTTP requests to registries, by registry, method and status code.",
            labels=["registry", "method", "code"],
        )
        for (registry, method, code), count in sorted(self._source.requests().items()):
            requests.add_metric([registry, method, code], count)
        yield requests
        remaining = GaugeMetricFamily(
            "dregsy_registry_ratelimit_remaining",
            "Pulls left in the registry's rate-limit window (RateLimit-Remaining), where the "
            "registry reports it.",
            labels=["registry"],
        )
        for registry, (left, _limit) in sorted(self._source.ratelimits().items()):
            remaining.add_metric([registry], left)
        yield remaining
