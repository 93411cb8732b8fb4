"""The events a running dregsy reports, and the listener protocol its observers implement.

The app announces the tasks of a config, each run's start and end, and each task's next
run; the sync runner announces each image as it is done. `Listeners` fans them out. Every
method is called on the event loop and must not block for long.
"""

from __future__ import annotations

from collections.abc import Sequence

from dregsy.config.types import Task
from dregsy.observe.results import ImageResult, TaskRun


class Listener:
    """Hears what dregsy does; every method does nothing unless overridden."""

    def configured(self, tasks: Sequence[Task]) -> None:
        """A config was loaded (at start, and on each valid reload): these tasks run now."""

    def run_started(self, task: str, at: float) -> None:
        """A run of `task` started (`at`: seconds since the epoch)."""

    def images_planned(self, task: str, count: int) -> None:
        """The run of `task` found `count` more images to check (once per run, usually)."""

    def image_done(self, result: ImageResult) -> None:
        """One image (or a failed mapping) of a running task is done."""

    def bytes_moved(self, task: str, count: int) -> None:
        """`count` more bytes of `task` reached the target."""

    def run_finished(self, run: TaskRun) -> None:
        """A run ended (cancelled runs do not end: they are not reported)."""

    def next_run(self, task: str, at: float | None) -> None:
        """When `task` runs next (seconds since the epoch); None: not again."""

    def finished(self) -> None:
        """Nothing more will run: the process is about to end."""


class Listeners(Listener):
    """Several listeners as one, called in order."""

    def __init__(self, listeners: Sequence[Listener] = ()) -> None:
        self._listeners = tuple(listeners)

    def configured(self, tasks: Sequence[Task]) -> None:
        for listener in self._listeners:
            listener.configured(tasks)

    def run_started(self, task: str, at: float) -> None:
        for listener in self._listeners:
            listener.run_started(task, at)

    def images_planned(self, task: str, count: int) -> None:
        for listener in self._listeners:
            listener.images_planned(task, count)

    def image_done(self, result: ImageResult) -> None:
        for listener in self._listeners:
            listener.image_done(result)

    def bytes_moved(self, task: str, count: int) -> None:
        for listener in self._listeners:
            listener.bytes_moved(task, count)

    def run_finished(self, run: TaskRun) -> None:
        for listener in self._listeners:
            listener.run_finished(run)

    def next_run(self, task: str, at: float | None) -> None:
        for listener in self._listeners:
            listener.next_run(task, at)

    def finished(self) -> None:
        for listener in self._listeners:
            listener.finished()
