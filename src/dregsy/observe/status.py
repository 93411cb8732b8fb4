"""The status board: each task's last run, current progress and next run, for `/`,
`/api/status` and `/readyz`.

A listener: it keeps the latest finished run of every task of the current config. It only
ever holds task names, registry hosts, image references, digests, counts and error texts
(which never contain credentials), so nothing it shows is secret.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from msgspec import Struct

from dregsy.config.types import Task
from dregsy.observe.events import Listener
from dregsy.observe.results import ImageResult, TaskRun, iso

MAX_FAILURES_SHOWN = 200  # per task; the count says how many there were


class TaskState(Struct):
    """What the board knows about one task."""

    name: str
    source: str
    target: str
    interval: float
    running_since: float | None = None
    done: int = 0
    total: int = 0
    moved: int = 0  # bytes of the run under way
    last: TaskRun | None = None
    last_success: float | None = None
    next_run: float | None = None

    def as_json(self) -> dict[str, object]:
        last: dict[str, object] | None = None
        if self.last is not None:
            failures = self.last.failures
            last = self.last.summary_json()
            last["failures"] = [_failure_json(f) for f in failures[:MAX_FAILURES_SHOWN]]
            last["failures_total"] = len(failures)
        running = None
        if self.running_since is not None:
            running = {
                "since": iso(self.running_since),
                "done": self.done,
                "total": self.total,
                "bytes": self.moved,
            }
        return {
            "name": self.name,
            "source": self.source,
            "target": self.target,
            "interval_seconds": self.interval or None,
            "running": running,
            "last_run": last,
            "last_success": iso(self.last_success),
            "next_run": iso(self.next_run),
        }


def _failure_json(result: ImageResult) -> dict[str, object]:
    return {"source": result.source, "target": result.target, "error": result.error}


class StatusBoard(Listener):
    """The latest state of every task; `now` gives seconds since the epoch."""

    def __init__(self, *, version: str, now: Callable[[], float], shard: str | None = None) -> None:
        self.version = version
        self.shard = shard  # `2/4` in a sharded process
        self._now = now
        self.started = now()
        self.ready = False
        self.tasks: dict[str, TaskState] = {}

    def configured(self, tasks: Sequence[Task]) -> None:
        old = self.tasks
        self.tasks = {}
        for task in tasks:
            state = TaskState(
                name=task.label,
                source=str(task.source.registry),
                target=str(task.target.registry),
                interval=task.interval,
            )
            if task.label in old:  # a reload keeps what the task did before
                state.last = old[task.label].last
                state.last_success = old[task.label].last_success
            self.tasks[task.label] = state
        self.ready = True

    def run_started(self, task: str, at: float) -> None:
        state = self.tasks.get(task)
        if state is not None:
            state.running_since, state.done, state.total, state.moved = at, 0, 0, 0
            state.next_run = None

    def images_planned(self, task: str, count: int) -> None:
        state = self.tasks.get(task)
        if state is not None:
            state.total += count

    def image_done(self, result: ImageResult) -> None:
        state = self.tasks.get(result.task)
        if state is not None:
            state.done += 1

    def bytes_moved(self, task: str, count: int) -> None:
        state = self.tasks.get(task)
        if state is not None:
            state.moved += count

    def run_finished(self, run: TaskRun) -> None:
        state = self.tasks.get(run.task)
        if state is not None:
            state.running_since = None
            state.last = run
            if not run.failures:
                state.last_success = run.finished

    def next_run(self, task: str, at: float | None) -> None:
        state = self.tasks.get(task)
        if state is not None:
            state.next_run = at

    def snapshot_time(self) -> float:
        return self._now()

    def snapshot(self) -> dict[str, object]:
        """Everything the board knows, as JSON-ready data (`/api/status`)."""
        return {
            "version": self.version,
            "ready": self.ready,
            "shard": self.shard,
            "started": iso(self.started),
            "now": iso(self._now()),
            "tasks": [state.as_json() for state in self.tasks.values()],
        }
