"""The relay protocol: prepare once, copy images, close."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from msgspec import Struct

from dregsy.config.types import Location, ReferrerSettings
from dregsy.errors import RelayError
from dregsy.manifest import Manifest
from dregsy.reference import Reference

NO_REFERRERS = ReferrerSettings()


class ImageJob(Struct, frozen=True):
    """Copy the manifest `digest` found at `source` to `target`."""

    source: Reference
    target: Reference
    source_location: Location
    target_location: Location
    digest: str  # the source manifest's digest, as seen by the unchanged-check
    platform: str | None = None  # the mapping's `platform`; None: the relay's default
    manifest: Manifest | None = None  # the manifest `digest` names, when already in hand
    rebuilt: bool = False  # that manifest is new: a subset index made here
    new_repository: bool = False  # the target repository had no tags when decided
    verbose: bool = False
    referrers: ReferrerSettings = NO_REFERRERS  # what travels with the image
    # Progress: bytes as they reach the target (negative: an attempt that failed). Relays
    # that cannot tell leave it alone; the runner reports their CopyOutcome.bytes at the end.
    on_bytes: Callable[[int], None] | None = None

    @property
    def detail_level(self) -> int:
        """The log level of per-blob detail: INFO for verbose tasks."""
        return logging.INFO if self.verbose else logging.DEBUG


class CopyOutcome(Struct, frozen=True):
    """What a relay moved for one image."""

    bytes: int = 0
    blobs: int = 0
    referrers: int = 0  # referrer manifests and cosign tags copied with it


class Relay(Protocol):
    """Moves one image at a time; knows nothing about config, schedules or tag lists."""

    name: str
    # False: the relay rewrites manifests (the Docker daemon does), so the unchanged-check
    # compares the image config digest of `default_platform` (or the mapping's platform).
    preserves_digests: bool
    default_platform: str  # "os/arch[/variant]" the relay picks from a multi-platform source
    # True: a job's `new_repository` lets the copy skip blob checks (see sync/fresh.py).
    uses_new_repositories: bool

    async def prepare(self) -> None:
        """Check the relay can work (binary present, daemon up); raise RelayUnavailableError."""
        ...

    def new_run(self) -> object:
        """State shared by the copies of one task run (e.g. blobs in flight)."""
        ...

    async def copy(self, job: ImageJob, run: object) -> CopyOutcome:
        """Copy the image, and (if the job asks) what refers to it."""
        ...

    async def copy_referrers(self, job: ImageJob, run: object) -> CopyOutcome:
        """The image was unchanged: copy what refers to it if that changed. Only the
        native relay can; the config check refuses the keys for the others."""
        raise RelayError(f"the {self.name} relay does not copy referrers")

    async def aclose(self) -> None: ...
