"""The tally of one task run, and its summary line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class RunStats:
    """Images copied, skipped and failed, and bytes moved, in one task run.

    `on_failure` hears of each failure as it happens, so a run cancelled half way (SIGTERM)
    still counts the failures it had.
    """

    copied: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    duration: float = 0.0
    on_failure: Callable[[], None] | None = field(default=None, repr=False)

    def fail(self, count: int = 1) -> None:
        self.failed += count
        if count and self.on_failure is not None:
            self.on_failure()

    def summary(self) -> str:
        return (
            f"{self.copied} copied, {self.skipped} skipped, {self.failed} failed, "
            f"{human_bytes(self.bytes)} moved in {self.duration:.2f} s"
        )


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
