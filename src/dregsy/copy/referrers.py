"""Copying what refers to an image: OCI referrers and cosign's digest tags.

After an image is copied, every manifest of it (the tagged one, and the children of an
index) has its referrers copied: each referrer manifest by digest, after its blobs and
after its subject, and then the referrers of that referrer (a signature of an SBOM). A
referrer the target lists already is skipped, as an unchanged image is.

Reading at the source uses the referrers API where the registry serves it, else the
fallback tag `sha256-<hex>`. Writing at the target: a registry that answers a referrer's
PUT with `OCI-Subject` lists it by itself; otherwise the target's fallback index is
merged (nothing another writer listed is dropped) and pushed, read again just before the
push (or guarded with `If-Match` where the registry gives an ETag) and checked after it,
starting over when someone else changed it in between.

An image the unchanged-check skipped costs one request per registry for its referrers: a
HEAD of both fallback tags (equal digests: nothing changed), or the API's list on one side
and the other side's list or index. Only when they differ is the whole tree walked.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Coroutine, Sequence
from typing import Any

from msgspec import Struct

from dregsy.config.types import ReferrerSettings
from dregsy.copy.engine import ImageCopier
from dregsy.copy.plan import short
from dregsy.copy.transfers import Transfers
from dregsy.errors import NotFoundError, RegistryError
from dregsy.manifest import Manifest
from dregsy.reference import Repository
from dregsy.referrers import (
    Referrer,
    cosign_tags,
    fallback_tag,
    merged_index,
    missing,
)
from dregsy.registry import manifests
from dregsy.registry.client import RegistryClient
from dregsy.registry.referrers import (
    ReferrersSupport,
    TagIndex,
    put_tag_index,
    read_tag_index,
)

log = logging.getLogger(__name__)

MAX_DEPTH = 8  # referrers of referrers of ...
MERGE_ATTEMPTS = 5  # read-merge-push rounds of a fallback index before giving up
MEMORY_SIZE = 4096
_LISTED, _UNLISTED, _MISSING = "listed", "unlisted", "missing"  # a referrer at the target


class ReferrerMemory:
    """What the runs of one configuration learn: which registries serve the referrers
    API, and pairs of fallback indexes found to agree (so periodic runs need only HEADs)."""

    def __init__(self) -> None:
        self.support = ReferrersSupport()
        self._agreed: OrderedDict[tuple[str, ...], None] = OrderedDict()

    def agreed(self, key: tuple[str, ...]) -> bool:
        return key in self._agreed

    def remember(self, key: tuple[str, ...]) -> None:
        self._agreed[key] = None
        if len(self._agreed) > MEMORY_SIZE:
            self._agreed.popitem(last=False)


class _Listing(Struct, frozen=True):
    """A subject's referrers at one registry; `index` when they came from a fallback tag."""

    entries: list[Referrer]
    index: TagIndex | None = None


class ReferrerCopier:
    """Copies the referrers and cosign tags of one image, within one image's copy."""

    def __init__(
        self,
        copier: ImageCopier,
        source: RegistryClient,
        target: RegistryClient,
        settings: ReferrerSettings,
        memory: ReferrerMemory,
        *,
        transfers: Transfers | None = None,
        detail_level: int = logging.DEBUG,
    ) -> None:
        self._copier = copier
        self._source = source
        self._target = target
        self._settings = settings
        self._memory = memory
        self._transfers = transfers or Transfers()  # the run's: images sharing a digest
        self._detail = detail_level
        self._seen: set[str] = set()
        self.copied = 0  # referrer manifests and cosign tags pushed

    async def after_copy(self, src: Repository, dst: Repository, top: Manifest) -> None:
        """The image `top` was copied: copy what refers to it and to its children."""
        digests = [top.digest, *(child.digest for child in top.manifests)]
        await _gather([self._subject(src, dst, digest, 0) for digest in digests])

    async def after_skip(self, src: Repository, dst: Repository, digest: str) -> None:
        """The image was unchanged: a cheap look whether its referrers or cosign tags did."""
        jobs = []
        if self._settings.digest_tags:
            jobs.append(self._cosign_tags(src, dst, digest))
        if self._settings.referrers:
            jobs.append(self._if_changed(src, dst, digest))
        await _gather(jobs)

    async def _if_changed(self, src: Repository, dst: Repository, digest: str) -> None:
        if not await self._referrers_changed(src, dst, digest):
            log.log(self._detail, "%s@%s: referrers unchanged", dst, short(digest))
            return
        log.log(self._detail, "%s@%s: referrers changed at the source", dst, short(digest))
        top = await manifests.get_manifest(self._target, dst.digest(digest))
        children = [child.digest for child in top.manifests]
        await _gather(
            [
                self._referrers(src, dst, digest, 0),
                *(self._subject(src, dst, child, 0) for child in children),
            ]
        )

    # -- the no-op check -------------------------------------------------------------------

    async def _referrers_changed(self, src: Repository, dst: Repository, digest: str) -> bool:
        """Whether the source lists a wanted referrer of `digest` the target does not, with
        one request per registry when nothing changed."""
        support = self._memory.support
        on_target = await support.list(self._target, dst, digest)
        on_source = None
        if on_target is None:
            on_source = await support.list(self._source, src, digest)
            if on_source is None:
                return await self._fallbacks_differ(src, dst, digest)
            index = await read_tag_index(self._target, dst.tag(fallback_tag(digest)))
            on_target = index.entries if index else []
        if on_source is None:
            on_source = (await self._read_source(src, digest)).entries
        return bool(missing(self._wanted(on_source), on_target))

    async def _fallbacks_differ(self, src: Repository, dst: Repository, digest: str) -> bool:
        """Neither side serves the API: compare the two fallback tags' digests (HEADs)."""
        tag = fallback_tag(digest)
        source_head = await manifests.head_manifest(self._source, src.tag(tag))
        if source_head is None:
            return False
        target_head = await manifests.head_manifest(self._target, dst.tag(tag))
        if target_head is not None and source_head.digest is not None:
            if target_head.digest == source_head.digest:
                return False
            key = (str(src), str(dst), tag, str(source_head.digest), str(target_head.digest))
            if self._memory.agreed(key):
                return False
        source = await read_tag_index(self._source, src.tag(tag))
        target = await read_tag_index(self._target, dst.tag(tag))
        if source is None:
            return False
        if missing(self._wanted(source.entries), target.entries if target else []):
            return True
        if target is not None:
            # The target lists more (another writer's entries) or the filter left some out:
            # remembered, so the next periodic run stops at the HEADs.
            self._memory.remember((str(src), str(dst), tag, source.digest, target.digest))
        return False

    # -- the walk --------------------------------------------------------------------------

    async def _subject(self, src: Repository, dst: Repository, digest: str, depth: int) -> None:
        """Everything that refers to the manifest `digest` (already at the target)."""
        if digest in self._seen or depth > MAX_DEPTH:
            return
        self._seen.add(digest)

        async def job() -> None:
            jobs = []
            if self._settings.digest_tags:
                jobs.append(self._cosign_tags(src, dst, digest))
            if self._settings.referrers:
                jobs.append(self._referrers(src, dst, digest, depth))
            await _gather(jobs)

        # Tags of one image (latest, v1) share their referrers: walked once per run.
        key = ("referrers", str(src), str(dst), digest, self._settings)
        await self._transfers.once(key, job)

    async def _referrers(self, src: Repository, dst: Repository, digest: str, depth: int) -> None:
        listing = await self._read_source(src, digest)
        wanted = self._wanted(listing.entries)
        if not wanted:
            return
        on_target = await self._memory.support.list(self._target, dst, digest)
        index: TagIndex | None = None
        if on_target is None:
            index = await read_tag_index(self._target, dst.tag(fallback_tag(digest)))
        listed = {entry.digest for entry in (on_target if on_target is not None else [])}
        listed |= {entry.digest for entry in (index.entries if index else [])}
        results = await asyncio.gather(
            *(
                self._push_referrer(src, dst, digest, entry, entry.digest in listed)
                for entry in wanted
            )
        )
        there = [e for e, result in zip(wanted, results, strict=True) if result is not _MISSING]
        await _gather([self._subject(src, dst, entry.digest, depth + 1) for entry in there])
        if not there or (on_target is not None and _UNLISTED not in results):
            return  # nothing to list, or the target lists its referrers itself
        every_one_wanted = len(there) == len(listing.entries)
        source_raw = listing.index.raw if listing.index and every_one_wanted else None
        await self._merge_fallback(dst, digest, there, source_raw)

    async def _push_referrer(
        self, src: Repository, dst: Repository, subject: str, entry: Referrer, listed: bool
    ) -> str:
        """Copy one referrer unless the target has it. `_LISTED`: the target's registry
        lists it by itself (it answered `OCI-Subject`, or serves the API and had it);
        `_UNLISTED`: the fallback index must list it; `_MISSING`: the source lists a
        referrer it does not have (a stale fallback index), which is left out."""
        serves = self._memory.support.serves_api(self._target)
        if listed or await manifests.head_manifest(self._target, dst.digest(entry.digest)):
            log.log(self._detail, "referrer %s: already at %s", short(entry.digest), dst)
            return _LISTED if serves else _UNLISTED
        try:
            manifest = await manifests.get_manifest(self._source, src.digest(entry.digest))
        except NotFoundError:
            log.warning(
                "%s: referrer %s of %s is listed at the source but not there; left out",
                src,
                short(entry.digest),
                short(subject),
            )
            return _MISSING
        pushed = await self._copier.copy(
            src.digest(entry.digest), dst.digest(entry.digest), entry.digest, manifest
        )
        self.copied += 1
        log.info(
            "%s: referrer %s (%s) of %s copied",
            dst,
            short(entry.digest),
            entry.artifact_type or entry.media_type,
            short(subject),
        )
        if pushed.subject is None:
            return _UNLISTED
        self._memory.support.learn(self._target, True)
        return _LISTED

    async def _merge_fallback(
        self, dst: Repository, digest: str, wanted: Sequence[Referrer], source_raw: bytes | None
    ) -> None:
        """Make the target's fallback index list `wanted`, keeping what else it lists."""
        ref = dst.tag(fallback_tag(digest))
        for _ in range(MERGE_ATTEMPTS):
            current = await read_tag_index(self._target, ref)
            raw = merged_index(current.entries if current else None, wanted, source_raw=source_raw)
            if raw is None:
                return
            if current is None or current.etag is None:
                # No ETag to guard the push with: read again right before it.
                head = await manifests.head_manifest(self._target, ref)
                if (head.digest if head else None) != (current.digest if current else None):
                    continue
            if_match = current.etag if current else None
            if not await put_tag_index(self._target, ref, raw, if_match=if_match):
                continue
            after = await read_tag_index(self._target, ref)
            if after is not None and not missing(wanted, after.entries):
                log.log(
                    self._detail,
                    "%s: referrers index updated (%d entries)",
                    ref,
                    len(after.entries),
                )
                return
        raise RegistryError(
            f"{ref}: the referrers index kept changing while it was merged "
            f"({MERGE_ATTEMPTS} attempts)"
        )

    async def _read_source(self, src: Repository, digest: str) -> _Listing:
        found = await self._memory.support.list(self._source, src, digest)
        if found is not None:
            return _Listing(found)
        index = await read_tag_index(self._source, src.tag(fallback_tag(digest)))
        return _Listing(index.entries, index) if index else _Listing([])

    def _wanted(self, entries: Sequence[Referrer]) -> list[Referrer]:
        return [entry for entry in entries if self._settings.wants(entry.artifact_type)]

    # -- cosign ----------------------------------------------------------------------------

    async def _cosign_tags(self, src: Repository, dst: Repository, digest: str) -> None:
        await _gather([self._cosign_tag(src, dst, tag) for tag in cosign_tags(digest)])

    async def _cosign_tag(self, src: Repository, dst: Repository, tag: str) -> None:
        source = await manifests.head_manifest(self._source, src.tag(tag))
        if source is None:
            return
        target = await manifests.head_manifest(self._target, dst.tag(tag))
        if target is not None and source.digest is not None and target.digest == source.digest:
            log.log(self._detail, "%s:%s: unchanged", dst, tag)
            return
        top = None
        if source.digest is None:  # the HEAD did not say: fetch it
            top = await manifests.get_manifest(self._source, src.tag(tag))
        digest = source.digest or (top.digest if top else "")
        await self._copier.copy(src.tag(tag), dst.tag(tag), digest, top)
        self.copied += 1
        log.info("%s:%s: copied %s", dst, tag, short(digest))


async def _gather(jobs: Sequence[Coroutine[Any, Any, None]]) -> None:
    """Run concurrently; if one fails, cancel the rest and raise the first error."""
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(job)
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
