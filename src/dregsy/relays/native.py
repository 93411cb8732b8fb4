"""The native relay: the OCI Distribution API, directly, with no daemon and no temp files."""

from __future__ import annotations

import asyncio

from dregsy.copy.engine import ImageCopier
from dregsy.copy.transfers import Transfers
from dregsy.registry.directory import RegistryDirectory
from dregsy.relays.base import CopyOutcome, ImageJob, Relay

DEFAULT_BLOB_PARALLEL = 8


class NativeRelay(Relay):
    """Copies manifests byte for byte, so digests at the target equal the source's."""

    name = "native"
    preserves_digests = True
    uses_new_repositories = True
    default_platform = "all"

    def __init__(
        self, registries: RegistryDirectory, *, blob_parallel: int = DEFAULT_BLOB_PARALLEL
    ) -> None:
        self._registries = registries
        self._blob_slots = asyncio.Semaphore(blob_parallel)

    async def prepare(self) -> None:
        return None

    def new_run(self) -> Transfers:
        return Transfers()

    async def copy(self, job: ImageJob, run: object) -> CopyOutcome:
        assert isinstance(run, Transfers)
        copier = ImageCopier(
            self._registries.source(job.source_location),
            self._registries.target(job.target_location),
            transfers=run,
            blob_slots=self._blob_slots,
            detail_level=job.detail_level,
            new_repository=job.new_repository,
            on_bytes=job.on_bytes,
        )
        await copier.copy(job.source, job.target, job.digest, job.manifest)
        return CopyOutcome(bytes=copier.stats.bytes, blobs=copier.stats.blobs_streamed)

    async def aclose(self) -> None:
        return None
