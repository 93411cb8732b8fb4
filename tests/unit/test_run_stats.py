from __future__ import annotations

from dregsy.observe.results import ImageOutcome
from dregsy.sync.stats import RunStats
from tests.unit.observe.support import image


def test_summary_counts_images_and_the_referrers_that_came_with_them() -> None:
    stats = RunStats(duration=1.5)
    stats.record(image("a", "v1", ImageOutcome.COPIED, size=2048))
    stats.record(image("a", "v2", ImageOutcome.SKIPPED))
    assert stats.summary() == "1 copied, 1 skipped, 0 failed, 2.0 KiB moved in 1.50 s"
    stats.record(image("a", "v3", ImageOutcome.SKIPPED, referrers=1))
    assert stats.summary() == (
        "1 copied, 2 skipped, 0 failed, 1 referrer copied, 2.0 KiB moved in 1.50 s"
    )
    stats.record(image("a", "v4", ImageOutcome.FAILED, error="boom", referrers=2))
    assert stats.referrers == 3
    assert stats.summary().startswith("1 copied, 2 skipped, 1 failed, 3 referrers copied, ")
