"""Decisions, without I/O: whether a tag needs copying and how each blob gets to the target."""

from __future__ import annotations

from enum import StrEnum

from msgspec import Struct


class TagAction(StrEnum):
    SKIP = "skip"
    COPY = "copy"


class TagDecision(Struct, frozen=True):
    action: TagAction
    reason: str


def decide_tag(source_digest: str, target_digest: str | None) -> TagDecision:
    """Copy unless the target tag already points at the source's digest."""
    if target_digest is None:
        return TagDecision(TagAction.COPY, "not at target")
    if target_digest == source_digest:
        return TagDecision(TagAction.SKIP, "unchanged")
    return TagDecision(TagAction.COPY, f"target has {short(target_digest)}")


class BlobAction(StrEnum):
    SKIP = "skip"  # the target repository has it
    MOUNT = "mount"  # same registry: ask the target to link it from the source repository
    STREAM = "stream"  # download from the source while uploading to the target


def blob_action(*, exists: bool, same_registry: bool) -> BlobAction:
    """The cheapest way to get a blob into the target repository."""
    if exists:
        return BlobAction.SKIP
    return BlobAction.MOUNT if same_registry else BlobAction.STREAM


def short(digest: str) -> str:
    """`sha256:0123456789ab` for log lines."""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}"
