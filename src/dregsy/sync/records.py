"""What the runner records of each image: result records and live byte progress.

Helpers of `dregsy.sync.runner` (which alone decides what failed).
"""

from __future__ import annotations

import time

from msgspec import Struct

from dregsy.config.types import Mapping, Task
from dregsy.observe.events import Listener
from dregsy.observe.results import ImageOutcome, ImageResult
from dregsy.reference import Reference
from dregsy.sync.decide import Decision


class Pair(Struct, frozen=True):
    """One image of a task run: copy `source` to `target` per `mapping`."""

    source: Reference
    target: Reference
    mapping: Mapping


class ByteProgress:
    """Bytes of one image as they move, for the listener; `settle` reports what a relay that
    does not stream progress moved, so the total always ends at the copy's bytes."""

    def __init__(self, task: str, listener: Listener) -> None:
        self._task = task
        self._listener = listener
        self._reported = 0

    def moved(self, count: int) -> None:
        self._reported += count
        self._listener.bytes_moved(self._task, count)

    def settle(self, total: int) -> None:
        if total != self._reported:
            self.moved(total - self._reported)


def image_result(
    task: Task,
    pair: Pair,
    outcome: ImageOutcome,
    *,
    source_digest: str | None = None,
    target_digest: str | None = None,
    reason: str = "",
    error: str | None = None,
    size: int = 0,
    seconds: float = 0.0,
    referrers: int = 0,
) -> ImageResult:
    return ImageResult(
        task=task.label,
        source=str(pair.source),
        target=str(pair.target),
        outcome=outcome,
        source_digest=source_digest,
        target_digest=target_digest,
        reason=reason,
        error=error,
        bytes=size,
        seconds=seconds,
        referrers=referrers,
    )


def image_failure(
    task: Task, pair: Pair, decision: Decision | None, error: str, started: float
) -> ImageResult:
    """A failed image, with the digests its decision had found (if it got that far)."""
    return image_result(
        task,
        pair,
        ImageOutcome.FAILED,
        source_digest=decision.source_digest if decision else None,
        target_digest=decision.target_digest if decision else None,
        error=error,
        seconds=time.monotonic() - started,
    )


def mapping_failure(task: Task, mapping: Mapping, error: str) -> ImageResult:
    """A mapping (or one of its repositories) that failed before its images were known."""
    return ImageResult(
        task=task.label,
        source=f"{task.source.registry}/{mapping.source}",
        target=f"{task.target.registry}/{mapping.target}",
        outcome=ImageOutcome.FAILED,
        error=error,
    )
