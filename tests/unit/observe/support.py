"""Results and tasks for the observer tests."""

from __future__ import annotations

from dregsy.config.types import Location, Mapping, Task
from dregsy.observe.results import ImageOutcome, ImageResult, TaskRun
from dregsy.reference import parse_registry

SOURCE = "src.example:5000"
TARGET = "dst.example:5000"


def task(name: str, interval: float = 0) -> Task:
    return Task(
        name,
        Location(parse_registry(SOURCE)),
        Location(parse_registry(TARGET)),
        (Mapping("demo/app", "mirror/app"),),
        interval=interval,
    )


def image(
    task_name: str,
    tag: str,
    outcome: ImageOutcome,
    *,
    size: int = 0,
    error: str | None = None,
    referrers: int = 0,
) -> ImageResult:
    digest = "sha256:" + tag.encode().hex().ljust(64, "0")
    return ImageResult(
        task=task_name,
        source=f"{SOURCE}/demo/app:{tag}",
        target=f"{TARGET}/mirror/app:{tag}",
        outcome=outcome,
        source_digest=digest,
        target_digest=None if outcome is ImageOutcome.FAILED else digest,
        reason="" if error else "not at target",
        error=error,
        bytes=size,
        seconds=0.25,
        referrers=referrers,
    )


def run(task_name: str, *images: ImageResult, started: float = 1000.0) -> TaskRun:
    return TaskRun(task_name, started, started + 2.5, images)
