"""The native relay: the OCI Distribution API, directly, with no daemon and no temp files.

The copy engine is imported on the first copy: a run that finds every tag unchanged (two
HEADs per tag) never needs it, and a short run's time is mostly its start-up.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from dregsy.config.types import DEFAULT_STALL_TIMEOUT
from dregsy.copy.transfers import Transfers
from dregsy.registry.directory import RegistryDirectory
from dregsy.relays.base import CopyOutcome, ImageJob, Relay

if TYPE_CHECKING:
    from dregsy.copy.engine import ImageCopier
    from dregsy.copy.referrers import ReferrerCopier, ReferrerMemory

DEFAULT_BLOB_PARALLEL = 8


class NativeRelay(Relay):
    """Copies manifests byte for byte, so digests at the target equal the source's."""

    name = "native"
    preserves_digests = True
    uses_new_repositories = True
    default_platform = "all"

    def __init__(
        self,
        registries: RegistryDirectory,
        *,
        blob_parallel: int = DEFAULT_BLOB_PARALLEL,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
    ) -> None:
        self._registries = registries
        self._blob_slots = asyncio.Semaphore(blob_parallel)
        self._stall_timeout = stall_timeout
        self._referrers: ReferrerMemory | None = None  # across runs: who serves the API

    async def prepare(self) -> None:
        return None

    def new_run(self) -> Transfers:
        return Transfers()

    async def copy(self, job: ImageJob, run: object) -> CopyOutcome:
        copier = self._copier(job, run)
        pushed = await copier.copy(job.source, job.target, job.digest, job.manifest)
        copied = 0
        if job.referrers.enabled:
            referrers = self._referrer_copier(job, copier, run)
            await referrers.after_copy(
                job.source.repository, job.target.repository, pushed.manifest
            )
            copied = referrers.copied
        return CopyOutcome(
            bytes=copier.stats.bytes, blobs=copier.stats.blobs_streamed, referrers=copied
        )

    async def copy_referrers(self, job: ImageJob, run: object) -> CopyOutcome:
        copier = self._copier(job, run)
        referrers = self._referrer_copier(job, copier, run)
        await referrers.after_skip(job.source.repository, job.target.repository, job.digest)
        return CopyOutcome(
            bytes=copier.stats.bytes,
            blobs=copier.stats.blobs_streamed,
            referrers=referrers.copied,
        )

    def _copier(self, job: ImageJob, run: object) -> ImageCopier:
        from dregsy.copy.engine import ImageCopier

        assert isinstance(run, Transfers)
        return ImageCopier(
            self._registries.source(job.source_location),
            self._registries.target(job.target_location),
            transfers=run,
            blob_slots=self._blob_slots,
            detail_level=job.detail_level,
            new_repository=job.new_repository,
            stall_timeout=self._stall_timeout,
            on_bytes=job.on_bytes,
        )

    def _referrer_copier(self, job: ImageJob, copier: ImageCopier, run: object) -> ReferrerCopier:
        from dregsy.copy.referrers import ReferrerCopier, ReferrerMemory

        assert isinstance(run, Transfers)
        if self._referrers is None:
            self._referrers = ReferrerMemory()
        return ReferrerCopier(
            copier,
            self._registries.source(job.source_location),
            self._registries.target(job.target_location),
            job.referrers,
            self._referrers,
            transfers=run,
            detail_level=job.detail_level,
        )

    async def aclose(self) -> None:
        return None
