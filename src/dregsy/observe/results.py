"""What a task run did: one record per image, and the run as a whole.

The sync runner makes an `ImageResult` for each image it handles (and one for each mapping
or repository that failed before its images were known); the app wraps a finished run in a
`TaskRun`. Metrics, the status page, `/api/status`, the JSON report and the progress display
all read these, so they always agree. Pure data, no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from msgspec import Struct


class ImageOutcome(StrEnum):
    COPIED = "copied"
    SKIPPED = "skipped"
    FAILED = "failed"


class RunOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"


class ImageResult(Struct, frozen=True):
    """One image of one task run.

    `source` and `target` are references as written in logs (`host/repo:tag`); a failure
    before the images were known (a mapping whose repositories could not be listed) names
    the mapping's repositories instead. `source_digest` is what the source tag points at,
    `target_digest` what the target tag holds after the run (None when unknown: not yet
    checked, or a relay that rewrites manifests pushed it). `reason` is why it was copied or
    skipped (`not at target`, `unchanged`, ...); `error` why it failed. `referrers`: referrer
    manifests and cosign tags copied with it (signatures are often added to an image that
    did not change, so a skipped image may have some; `bytes` counts their blobs too).
    """

    task: str
    source: str
    target: str
    outcome: ImageOutcome
    source_digest: str | None = None
    target_digest: str | None = None
    reason: str = ""
    error: str | None = None
    bytes: int = 0
    seconds: float = 0.0
    referrers: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "task": self.task,
            "source": self.source,
            "target": self.target,
            "source_digest": self.source_digest,
            "target_digest": self.target_digest,
            "result": str(self.outcome),
            "reason": self.reason or None,
            "error": self.error,
            "bytes": self.bytes,
            "referrers": self.referrers,
            "seconds": round(self.seconds, 3),
        }


class TaskRun(Struct, frozen=True):
    """One finished run of a task; times are seconds since the epoch.

    `repositories` and `repositories_found`: the source repositories this process synced,
    of those the task's mappings found (fewer in a shard, `shard` = `2/4`; else the same).
    """

    task: str
    started: float
    finished: float
    images: tuple[ImageResult, ...]
    shard: str | None = None
    repositories: int | None = None
    repositories_found: int | None = None

    @property
    def duration(self) -> float:
        return max(0.0, self.finished - self.started)

    def count(self, outcome: ImageOutcome) -> int:
        return sum(1 for image in self.images if image.outcome is outcome)

    @property
    def bytes(self) -> int:
        return sum(image.bytes for image in self.images)

    @property
    def referrers(self) -> int:
        return sum(image.referrers for image in self.images)

    @property
    def outcome(self) -> RunOutcome:
        failed = any(image.outcome is ImageOutcome.FAILED for image in self.images)
        return RunOutcome.FAILURE if failed else RunOutcome.SUCCESS

    @property
    def failures(self) -> tuple[ImageResult, ...]:
        return tuple(image for image in self.images if image.outcome is ImageOutcome.FAILED)

    def summary_json(self) -> dict[str, object]:
        return {
            "task": self.task,
            "started": iso(self.started),
            "finished": iso(self.finished),
            "duration_seconds": round(self.duration, 3),
            "result": str(self.outcome),
            "copied": self.count(ImageOutcome.COPIED),
            "skipped": self.count(ImageOutcome.SKIPPED),
            "failed": self.count(ImageOutcome.FAILED),
            "bytes": self.bytes,
            "referrers": self.referrers,
            "shard": self.shard,
            "repositories": self.repositories,
            "repositories_found": self.repositories_found,
        }


def iso(timestamp: float | None) -> str | None:
    """`2026-12-04T17:05:00Z` for a time since the epoch (None stays None)."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
