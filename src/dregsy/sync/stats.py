"""The tally of one task run, and its summary line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class RunStats:
    """Images copied, skipped and failed, and bytes moved, in one task run."""

    copied: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failed == 0

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
