"""The tally of one task run, and its summary line."""

from __future__ import annotations

from collections.abc import Callable

from msgspec import Struct, field

from dregsy.observe.events import Listener
from dregsy.observe.results import ImageOutcome, ImageResult


class RunStats(Struct):
    """Images copied, skipped and failed, and bytes moved, in one task run.

    `record` keeps each image's result and tells `listener` at once; `on_failure` hears of
    each failure as it happens, so a run cancelled half way (SIGTERM) still counts the
    failures it had.
    """

    copied: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    referrers: int = 0  # referrer manifests and cosign tags copied
    duration: float = 0.0
    repositories: int | None = None  # source repositories synced (this shard's)
    repositories_found: int | None = None  # of those the mappings found
    results: list[ImageResult] = field(default_factory=list)
    on_failure: Callable[[], None] | None = None
    listener: Listener | None = None

    def __repr__(self) -> str:  # the counts; not every result, nor the callbacks
        return (
            f"RunStats(copied={self.copied}, skipped={self.skipped}, failed={self.failed}, "
            f"bytes={self.bytes}, referrers={self.referrers}, duration={self.duration})"
        )

    def record(self, result: ImageResult) -> None:
        self.results.append(result)
        self.bytes += result.bytes  # a skipped image's referrers may have moved some
        self.referrers += result.referrers
        if result.outcome is ImageOutcome.COPIED:
            self.copied += 1
        elif result.outcome is ImageOutcome.SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1
            if self.on_failure is not None:
                self.on_failure()
        if self.listener is not None:
            self.listener.image_done(result)

    def summary(self) -> str:
        plural = "s" if self.referrers > 1 else ""
        referrers = f"{self.referrers} referrer{plural} copied, " if self.referrers else ""
        return (
            f"{self.copied} copied, {self.skipped} skipped, {self.failed} failed, "
            f"{referrers}{human_bytes(self.bytes)} moved in {self.duration:.2f} s"
        )


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
