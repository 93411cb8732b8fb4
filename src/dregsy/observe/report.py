"""`-report=FILE`: the JSON run report, rewritten after every task run.

It holds the latest finished run of every task of the current config: a summary per task
and one entry per image (task, source and target references, their digests, result, error,
bytes, seconds). Each write goes to a temporary file in the same directory that then
replaces the report, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from dregsy.config.types import Task
from dregsy.observe.events import Listener
from dregsy.observe.results import TaskRun, iso

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


class ReportWriter(Listener):
    """Writes the report at `path` after each run; `now`: seconds since the epoch."""

    def __init__(
        self, path: Path, *, version: str, now: Callable[[], float], shard: str | None = None
    ) -> None:
        self.path = path
        self._version = version
        self._shard = shard  # `2/4` in a sharded process
        self._now = now
        self._order: list[str] = []
        self._runs: dict[str, TaskRun] = {}

    def configured(self, tasks: Sequence[Task]) -> None:
        self._order = [task.label for task in tasks]
        self._runs = {name: run for name, run in self._runs.items() if name in self._order}

    def run_finished(self, run: TaskRun) -> None:
        self._runs[run.task] = run
        try:
            write_atomically(self.path, json.dumps(self.document(), indent=2) + "\n")
        except OSError as exc:
            log.error("cannot write the report %s: %s", self.path, exc.strerror or exc)

    def document(self) -> dict[str, object]:
        runs = [self._runs[name] for name in self._order if name in self._runs]
        return {
            "format": FORMAT_VERSION,
            "dregsy": self._version,
            "generated": iso(self._now()),
            "shard": self._shard,
            "tasks": [run.summary_json() for run in runs],
            "images": [image.as_json() for run in runs for image in run.images],
        }


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`."""
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
