"""Live progress on a terminal (rich): per task, images done of total, bytes moved, rate.

Only for one-off runs on a TTY (the command decides). Log lines keep their format: while
the display is live, rich prints what is written to stderr above it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import (
    Task as ProgressTask,
)
from rich.text import Text

from dregsy.config.types import Task
from dregsy.observe.events import Listener
from dregsy.observe.results import ImageOutcome, ImageResult, TaskRun
from dregsy.sync.stats import human_bytes


class _BytesColumn(ProgressColumn):
    """`12.0 MiB, 4.1 MiB/s`: bytes moved so far and the average rate of the run."""

    def render(self, task: ProgressTask) -> Text:
        moved = int(task.fields.get("bytes", 0))
        elapsed = task.elapsed or 0.0
        rate = f", {human_bytes(int(moved / elapsed))}/s" if elapsed > 0.5 and moved else ""
        return Text(f"{human_bytes(moved)}{rate}", style="progress.data.speed")


class _FailedColumn(ProgressColumn):
    def render(self, task: ProgressTask) -> Text:
        failed = int(task.fields.get("failed", 0))
        return Text(f"{failed} failed" if failed else "", style="red")


class ProgressDisplay(Listener):
    """One progress bar per task, live while the tasks run."""

    def __init__(self, stream: TextIO) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("images"),
            _BytesColumn(),
            _FailedColumn(),
            TimeElapsedColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self._ids: dict[str, TaskID] = {}
        self._totals: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._bytes: dict[str, int] = {}
        self._failed: dict[str, int] = {}
        self._running = 0
        self._started = False

    def configured(self, tasks: Sequence[Task]) -> None:
        for task in tasks:
            if task.label not in self._ids:
                self._ids[task.label] = self._progress.add_task(
                    task.label, total=None, start=False, bytes=0, failed=0
                )

    def run_started(self, task: str, at: float) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        self._running += 1
        for counts in (self._totals, self._done, self._bytes, self._failed):
            counts[task] = 0
        self._progress.start_task(self._ids[task])

    def images_planned(self, task: str, count: int) -> None:
        self._totals[task] += count
        self._progress.update(self._ids[task], total=self._totals[task])

    def image_done(self, result: ImageResult) -> None:
        task = result.task
        self._done[task] += 1
        self._failed[task] += result.outcome is ImageOutcome.FAILED
        # a mapping that failed before its images were known was not planned
        self._totals[task] = max(self._totals[task], self._done[task])
        self._progress.update(
            self._ids[task],
            total=self._totals[task],
            completed=self._done[task],
            failed=self._failed[task],
        )

    def bytes_moved(self, task: str, count: int) -> None:
        self._bytes[task] += count
        self._progress.update(self._ids[task], bytes=self._bytes[task])

    def run_finished(self, run: TaskRun) -> None:
        task_id = self._ids[run.task]
        self._progress.update(task_id, total=len(run.images), completed=len(run.images))
        self._progress.stop_task(task_id)
        self._running -= 1
        if self._running == 0:
            self.close()

    def finished(self) -> None:
        self.close()

    def close(self) -> None:
        if self._started:
            self._progress.stop()
            self._started = False
