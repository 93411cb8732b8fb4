"""`-dry-run` output: what a run would do with each image, and why.

On a terminal, one table at the end (rich); otherwise one log line per image as it is
decided (an image that could not be checked has the runner's error line instead). The
runner's dry-run results read: `copied` = would copy, `skipped` = unchanged.
"""

from __future__ import annotations

import logging
from typing import TextIO

from rich.console import Console
from rich.table import Table

from dregsy.copy.plan import short
from dregsy.observe.events import Listener
from dregsy.observe.results import ImageOutcome, ImageResult

log = logging.getLogger(__name__)


def verdict(result: ImageResult) -> str:
    """`copy (not at target)`, `copy (target has sha256:..., source has sha256:...)`,
    `unchanged`, or `error: ...`."""
    if result.outcome is ImageOutcome.FAILED:
        return f"error: {result.error}"
    if result.outcome is ImageOutcome.SKIPPED:
        return "unchanged" if result.reason == "unchanged" else f"unchanged ({result.reason})"
    if result.target_digest is None:
        return "copy (not at target)"
    source = short(result.source_digest) if result.source_digest else "?"
    return f"copy (target has {short(result.target_digest)}, source has {source})"


class DryRunOutput(Listener):
    """Collects the dry run's results; `table`: print a table at the end, else log lines."""

    def __init__(self, stream: TextIO, *, table: bool) -> None:
        self._stream = stream
        self._table = table
        self.results: list[ImageResult] = []

    def image_done(self, result: ImageResult) -> None:
        self.results.append(result)
        if not self._table and result.outcome is not ImageOutcome.FAILED:
            log.info("dry run: %s -> %s: %s", result.source, result.target, verdict(result))

    def finish(self) -> None:
        if not self._table:
            return
        table = Table(title="dregsy dry run", title_justify="left")
        for column in ("task", "source", "target", "a run would"):
            table.add_column(column, overflow="fold")
        styles = {ImageOutcome.COPIED: "yellow", ImageOutcome.SKIPPED: "green"}
        for result in sorted(self.results, key=lambda r: (r.task, r.source, r.target)):
            style = styles.get(result.outcome, "red")
            table.add_row(result.task, result.source, result.target, verdict(result), style=style)
        Console(file=self._stream).print(table)
