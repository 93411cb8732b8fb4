"""The native copy: manifests and blobs straight from one registry to another.

Order makes a tag safe: blobs first, then the child manifests of an index (by digest),
and the tagged manifest last, so a tag never points at content that is not all there,
even if the process dies half way. Blobs stream from GET to PUT through a small buffer
while their digest is checked; a mismatch aborts the upload before it completes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

from msgspec import Struct

from dregsy.copy.plan import BlobAction, blob_action, short
from dregsy.copy.transfers import Transfers
from dregsy.digest import Verifier
from dregsy.errors import RegistryHTTPError, RegistryUnreachableError
from dregsy.manifest import Descriptor, Manifest
from dregsy.reference import Reference, Repository
from dregsy.registry import blobs, manifests
from dregsy.registry.client import NETWORK_ERRORS, RegistryClient
from dregsy.registry.http import Response

log = logging.getLogger(__name__)

CHUNK_SIZE = 256 * 1024
BLOB_ATTEMPTS = 3
# A blob download fails (and is tried again) when a chunk of CHUNK_SIZE bytes (or the rest
# of the blob) takes longer than this: a source sending a byte a second cannot hold a copy.
STALL_TIMEOUT = 300.0


class CopyStats(Struct):
    """What one copy moved."""

    bytes: int = 0
    blobs_streamed: int = 0
    blobs_mounted: int = 0
    blobs_present: int = 0
    manifests_pushed: int = 0


class Pushed(Struct, frozen=True):
    """A manifest the copy pushed, and the `OCI-Subject` the registry answered with."""

    manifest: Manifest
    subject: str | None


class ImageCopier:
    """Copies one manifest (image or index) and everything it references."""

    def __init__(
        self,
        source: RegistryClient,
        target: RegistryClient,
        *,
        transfers: Transfers,
        blob_slots: asyncio.Semaphore,
        detail_level: int = logging.DEBUG,
        new_repository: bool = False,
        stall_timeout: float = STALL_TIMEOUT,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self._source = source
        self._target = target
        self._transfers = transfers
        self._blob_slots = blob_slots
        self._detail = detail_level
        # The target repository had no tags when this run looked: nothing to find in it
        # (a blob another image of the run pushes is shared through `transfers`).
        self._new_repository = new_repository
        self._same_registry = (
            source.registry.api_host == target.registry.api_host
            and source.registry.scheme == target.registry.scheme
        )
        self._stall_timeout = stall_timeout
        self.stats = CopyStats()
        # Hears each chunk as it goes out, and a negative count for an attempt that failed.
        self._on_bytes = on_bytes

    async def copy(
        self, src: Reference, dst: Reference, digest: str, top: Manifest | None = None
    ) -> Pushed:
        """Copy manifest `digest` of `src`'s repository to `dst` (tagged or by digest).

        `top` is that manifest when already in hand (fetched by the decision, or a subset
        index built here): it is pushed as it is instead of being fetched again.
        """
        if top is None:
            top = await manifests.get_manifest(self._source, src.repository.digest(digest))
        await self._ensure_content(top, src.repository, dst.repository)
        subject = await manifests.put_manifest(self._target, dst, top)
        self.stats.manifests_pushed += 1
        return Pushed(top, subject)

    async def _ensure_content(self, manifest: Manifest, src: Repository, dst: Repository) -> None:
        if manifest.is_index:
            jobs = [self._ensure_child(d, src, dst) for d in manifest.manifests]
        else:
            jobs = [self._ensure_blob(d, src, dst) for d in manifest.blobs]
        await _gather(jobs)

    async def _ensure_child(self, desc: Descriptor, src: Repository, dst: Repository) -> None:
        async def job() -> None:
            target_ref = dst.digest(desc.digest)
            if (
                not self._new_repository
                and await manifests.head_manifest(self._target, target_ref) is not None
            ):
                log.log(self._detail, "manifest %s: already at %s", short(desc.digest), dst)
                return
            child = await manifests.get_manifest(self._source, src.digest(desc.digest))
            await self._ensure_content(child, src, dst)
            await manifests.put_manifest(self._target, target_ref, child)
            self.stats.manifests_pushed += 1
            what = f" ({desc.platform})" if desc.platform else ""
            log.log(self._detail, "manifest %s%s: pushed to %s", short(desc.digest), what, dst)

        await self._transfers.once(("manifest", str(dst), desc.digest), job)

    async def _ensure_blob(self, desc: Descriptor, src: Repository, dst: Repository) -> None:
        async def job() -> None:
            async with self._blob_slots:
                await self._copy_blob(desc, src, dst)

        await self._transfers.once(("blob", str(dst), desc.digest), job)

    async def _copy_blob(self, desc: Descriptor, src: Repository, dst: Repository) -> None:
        exists = not self._new_repository and await blobs.blob_exists(
            self._target, dst, desc.digest
        )
        action = blob_action(exists=exists, same_registry=self._same_registry)
        if action is BlobAction.SKIP:
            self.stats.blobs_present += 1
            log.log(self._detail, "blob %s: already at %s", short(desc.digest), dst)
            return
        location = None
        if action is BlobAction.MOUNT:
            try:
                start = await blobs.start_upload(self._target, dst, mount=(desc.digest, src))
            except RegistryHTTPError as exc:
                # Some registries refuse mounts they could do (Harbor 401, Docker Hub 400):
                # upload instead, as crane does.
                log.debug("blob %s: mount refused (%s), uploading", short(desc.digest), exc)
            else:
                if start.mounted:
                    self.stats.blobs_mounted += 1
                    log.log(self._detail, "blob %s: mounted from %s", short(desc.digest), src)
                    return
                location = start.location
        for attempt in range(1, BLOB_ATTEMPTS + 1):
            if location is None:
                location = (await blobs.start_upload(self._target, dst)).location
            assert location is not None
            try:
                await self._stream_blob(desc, src, dst, location)
                break
            except (RegistryUnreachableError, RegistryHTTPError) as exc:
                # A streamed upload is not replayed by the transport: a broken connection or
                # a passing 5xx/429 starts over with a new upload and a new download.
                temporary = not isinstance(exc, RegistryHTTPError) or exc.temporary
                if attempt == BLOB_ATTEMPTS or not temporary:
                    raise
                log.warning("blob %s: transfer interrupted (%s), retrying", short(desc.digest), exc)
                location = None
        self.stats.blobs_streamed += 1
        self.stats.bytes += desc.size
        log.log(self._detail, "blob %s: copied %d bytes to %s", short(desc.digest), desc.size, dst)

    async def _stream_blob(
        self, desc: Descriptor, src: Repository, dst: Repository, location: str
    ) -> None:
        sent = [0]  # bytes of this attempt that went out
        try:
            async with blobs.open_blob(self._source, src, desc.digest) as response:
                verifier = Verifier(desc.digest, desc.size, f"blob {desc.digest}")
                body = _verified(response, verifier, self._stall_timeout)
                if self._on_bytes is not None:
                    body = _counted(body, self._on_bytes, sent)
                await blobs.finish_upload(
                    self._target, dst, location, digest=desc.digest, size=desc.size, body=body
                )
        except BaseException:
            if sent[0] and self._on_bytes is not None:
                self._on_bytes(-sent[0])  # this attempt moved nothing that counts
            raise


async def _verified(
    response: Response, verifier: Verifier, stall_timeout: float
) -> AsyncIterator[bytes]:
    """Pass chunks through while hashing them; hold the last one back until the digest checks
    out, so a mismatching blob is never completed at the target. A chunk that takes longer
    than `stall_timeout` to arrive fails the download."""
    held: bytes | None = None
    chunks = response.aiter_bytes(CHUNK_SIZE)
    try:
        while True:
            try:
                async with asyncio.timeout(stall_timeout):
                    chunk = await anext(chunks)
            except StopAsyncIteration:
                break
            verifier.update(chunk)
            if held is not None:
                yield held
            held = chunk
    except TimeoutError:
        raise RegistryUnreachableError(
            f"download of {verifier.what} stalled: less than {CHUNK_SIZE // 1024} KiB "
            f"in {stall_timeout:g} s (stall-timeout)"
        ) from None
    except NETWORK_ERRORS as exc:
        raise RegistryUnreachableError(f"download of {verifier.what} broke off: {exc}") from exc
    verifier.check()
    if held is not None:
        yield held


async def _counted(
    chunks: AsyncIterator[bytes], on_bytes: Callable[[int], None], sent: list[int]
) -> AsyncIterator[bytes]:
    """Pass chunks through, telling `on_bytes` of each once it went out (adding to `sent`)."""
    async for chunk in chunks:
        yield chunk
        sent[0] += len(chunk)
        on_bytes(len(chunk))


async def _gather(jobs: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run coroutines concurrently; if one fails, cancel the rest and raise the first error."""
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job)
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
