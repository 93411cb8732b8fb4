"""One run of one task: list tags, check each image, hand the changed ones to the relay.

This is the one place where a failure is recorded and the run goes on: an image (or a
mapping's expansion) that fails is logged with its reference and cause, and the rest still
runs; even an unexpected error fails only that image or mapping. Every image ends as an
`ImageResult` (copied, skipped or failed) that the run's listener hears of at once.

A dry run (`dry_run=True`) decides each image with reads only (HEADs where a HEAD says
enough) and copies nothing: its results say what a run would do (`copied`: would copy).

An image whose source has a `ratelimit` and would pull while the registry reports fewer
than `min` pulls left gives its image slot back, waits (`dregsy.sync.quotawait`) and starts
over once enough are left; a stop request ends the wait, leaving the image for next time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from dregsy.clock import Clock, SystemClock
from dregsy.config.types import Mapping, Task
from dregsy.copy.plan import TagAction, short
from dregsy.errors import DregsyError, PullQuotaLowError
from dregsy.listers.cache import RepositoryLists
from dregsy.observe.events import Listener
from dregsy.observe.results import ImageOutcome
from dregsy.reference import Reference
from dregsy.registry import manifests
from dregsy.registry.client import RegistryClient
from dregsy.registry.directory import RegistryDirectory
from dregsy.registry.tags import MAX_TAGS
from dregsy.relays.base import ImageJob, Relay
from dregsy.shard import Shard, Share
from dregsy.sync.decide import Decider, Decision
from dregsy.sync.expand import (
    RepoPair,
    UnmappableRepository,
    references,
    repository_pairs,
    tag_refs,
)
from dregsy.sync.fresh import NewRepositories
from dregsy.sync.quotawait import QuotaWaits
from dregsy.sync.records import ByteProgress, Pair, image_failure, image_result, mapping_failure
from dregsy.sync.stats import RunStats

log = logging.getLogger(__name__)


class TaskRunner:
    """Runs tasks through one relay, with at most `image_slots` images in flight overall.

    With a `shard`, each task run lists and expands every mapping as usual, then keeps only
    the source repositories of its shard (`dregsy.shard`); the others are not touched.
    """

    def __init__(
        self,
        relay: Relay,
        registries: RegistryDirectory,
        image_slots: asyncio.Semaphore,
        repo_lists: RepositoryLists | None = None,
        *,
        stop: asyncio.Event | None = None,
        clock: Clock | None = None,
        dry_run: bool = False,
        max_tags: int = MAX_TAGS,
        shard: Shard | None = None,
    ) -> None:
        self._relay = relay
        self._shard = shard
        self._registries = registries
        self._image_slots = image_slots
        self._repo_lists = repo_lists  # for regex mappings
        self._dry_run = dry_run
        self._decider = Decider(relay, head_only=dry_run)
        self._max_tags = max_tags
        # A stop request ends pull-quota waits at once.
        self._quota_waits = QuotaWaits(stop or asyncio.Event(), clock or SystemClock())

    async def run(
        self,
        task: Task,
        on_failure: Callable[[], None] | None = None,
        listener: Listener | None = None,
    ) -> RunStats:
        """Run every mapping of `task` once; never raises for registry trouble."""
        started = time.monotonic()
        stats = RunStats(on_failure=on_failure, listener=listener)
        source = self._registries.source(task.source)
        target = self._registries.target(task.target)
        run_state = self._relay.new_run()
        share = Share(task.name, self._shard)
        # Both registries' first round trip at once; a failure is remembered by the client
        # and reported by the images that need it.
        await asyncio.gather(source.base_url(), target.base_url(), return_exceptions=True)

        async def expand(mapping: Mapping) -> list[Pair]:
            try:
                return await self._expand(source, task, mapping, stats, share)
            except DregsyError as exc:
                stats.record(mapping_failure(task, mapping, str(exc)))
                log.error("mapping %s -> %s: %s", mapping.source, mapping.target, exc)
            except Exception as exc:  # the boundary: a bug fails one mapping, not every task
                stats.record(mapping_failure(task, mapping, f"internal error: {exc!r}"))
                log.exception(
                    "mapping %s -> %s: internal error: %r", mapping.source, mapping.target, exc
                )
            return []

        # Mappings are listed concurrently (each listing waits for an image slot).
        expanded = await asyncio.gather(*(expand(mapping) for mapping in task.mappings))
        pairs = [pair for found in expanded for pair in found]
        stats.repositories, stats.repositories_found = len(share.kept), len(share.found)
        if self._shard is not None:
            log.info("%s", share.summary())
        if listener is not None:
            listener.images_planned(task.label, len(pairs))
        if not self._dry_run:
            pairs = await self._prepare_targets(task, pairs, stats)
        new_repositories = NewRepositories()
        await asyncio.gather(
            *(
                self._sync_image(task, pair, source, target, run_state, new_repositories, stats)
                for pair in pairs
            )
        )
        stats.duration = time.monotonic() - started
        shard = f"shard {self._shard}: " if self._shard is not None else ""
        if self._dry_run:
            log.info(
                "task %s (dry run): %s%d to copy, %d unchanged, %d could not be checked",
                task.label,
                shard,
                stats.copied,
                stats.skipped,
                stats.failed,
            )
        else:
            log.info("task %s: %s%s", task.label, shard, stats.summary())
        return stats

    async def _prepare_targets(self, task: Task, pairs: list[Pair], stats: RunStats) -> list[Pair]:
        """ECR: create missing target repositories, once per run; a repository that cannot
        be prepared fails its images (the reason is logged once)."""
        unready = await self._registries.prepare_targets(
            task.target, {pair.target.repository.path for pair in pairs}
        )
        for pair in pairs:
            reason = unready.get(pair.target.repository.path)
            if reason is not None:
                error = f"cannot prepare the ECR repository: {reason}"
                stats.record(image_result(task, pair, ImageOutcome.FAILED, error=error))
        return [pair for pair in pairs if pair.target.repository.path not in unready]

    async def _expand(
        self, source: RegistryClient, task: Task, mapping: Mapping, stats: RunStats, share: Share
    ) -> list[Pair]:
        """The image pairs of a mapping in this process's share; a repository that fails is
        counted and logged, the others still run (a failed repository listing raises: the
        whole mapping failed, in every shard)."""

        async def pairs_of(repos: RepoPair) -> list[Pair]:
            async with self._image_slots:
                refs = await tag_refs(source, repos, mapping, max_tags=self._max_tags)
            # A relay that rewrites manifests (Docker) cannot push by digest: dregsy's tag
            by_digest = self._relay.preserves_digests
            return [
                Pair(*references(ref, repos.source, repos.target, by_digest=by_digest), mapping)
                for ref in refs
            ]

        found = await repository_pairs(task, mapping, self._repo_lists)
        repo_pairs = [p for p in found if isinstance(p, RepoPair) and share.keeps(p.source.path)]
        results = await asyncio.gather(*(pairs_of(p) for p in repo_pairs), return_exceptions=True)
        pairs: list[Pair] = []
        failures: list[DregsyError] = [
            e for e in found if isinstance(e, UnmappableRepository) and share.keeps(e.path)
        ]
        for result in results:
            if isinstance(result, DregsyError):
                failures.append(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                pairs.extend(result)
        for failure in failures:
            stats.record(mapping_failure(task, mapping, str(failure)))
            log.error("mapping %s -> %s: %s", mapping.source, mapping.target, failure)
        return pairs

    async def _sync_image(
        self,
        task: Task,
        pair: Pair,
        source: RegistryClient,
        target: RegistryClient,
        run_state: object,
        new_repositories: NewRepositories,
        stats: RunStats,
    ) -> None:
        """Sync one image, waiting (without its slot) whenever the pull quota is low."""
        while await self._try_image(task, pair, source, target, run_state, new_repositories, stats):
            if not await self._quota_waits.wait(source, pair.source):
                return

    async def _try_image(
        self,
        task: Task,
        pair: Pair,
        source: RegistryClient,
        target: RegistryClient,
        run_state: object,
        new_repositories: NewRepositories,
        stats: RunStats,
    ) -> bool:
        """Decide and copy one image in an image slot; True if the pull quota was low:
        then no tag was written, and it must wait and start over."""
        async with self._image_slots:
            started = time.monotonic()
            decision: Decision | None = None
            progress = ByteProgress(task.label, stats.listener) if stats.listener else None
            try:
                await _learn_quota(source, pair.source)
                decision = await self._decider.decide(
                    source, target, pair.source, pair.target, pair.mapping, new_repositories
                )
                if self._dry_run:
                    self._decided(task, pair, decision, stats, started)
                    return False
                job = ImageJob(
                    source=pair.source,
                    target=pair.target,
                    source_location=task.source,
                    target_location=task.target,
                    digest=decision.digest,
                    platform=pair.mapping.platform,
                    manifest=decision.manifest,
                    rebuilt=decision.rebuilt,
                    verbose=task.verbose,
                    new_repository=decision.new_repository,
                    referrers=pair.mapping.referrers,
                    on_bytes=progress.moved if progress else None,
                )
                if decision.action is TagAction.SKIP:
                    size = 0
                    if job.referrers.enabled:
                        # Signatures are often added to images that did not change.
                        size = (await self._relay.copy_referrers(job, run_state)).bytes
                        if progress is not None:
                            progress.settle(size)
                    self._decided(task, pair, decision, stats, started, size)
                    return False
                if source.pull_quota is not None:
                    source.pull_quota.check()  # every relay pulls the manifest to copy it
                if decision.rebuilt:
                    log.info(
                        "%s: a new index of platforms %s, digest %s (the source index's "
                        "digest differs: it lists other platforms too)",
                        pair.target,
                        ", ".join(pair.mapping.platforms or ()),
                        short(decision.digest),
                    )
                outcome = await self._relay.copy(job, run_state)
                if progress is not None:
                    progress.settle(outcome.bytes)
            except asyncio.CancelledError:
                # Stopped half way (SIGTERM past the grace period): not copied, so failed.
                error = "cancelled: dregsy is stopping"
                stats.record(image_failure(task, pair, decision, error, started))
                log.error("%s -> %s: %s", pair.source, pair.target, error)
                raise
            except PullQuotaLowError as exc:
                if not self._dry_run:
                    return True
                # A dry run does not wait: it says that this check would need a pull.
                stats.record(image_failure(task, pair, decision, str(exc), started))
                log.error("%s -> %s: %s", pair.source, pair.target, exc)
                return False
            except DregsyError as exc:
                stats.record(image_failure(task, pair, decision, str(exc), started))
                log.error("%s -> %s: %s", pair.source, pair.target, exc)
                return False
            except Exception as exc:  # the boundary: a bug fails one image, not the run
                stats.record(
                    image_failure(task, pair, decision, f"internal error: {exc!r}", started)
                )
                log.exception("%s -> %s: internal error: %r", pair.source, pair.target, exc)
                return False
            stats.record(
                image_result(
                    task,
                    pair,
                    ImageOutcome.COPIED,
                    source_digest=decision.source_digest,
                    target_digest=decision.digest if self._relay.preserves_digests else None,
                    reason=decision.reason,
                    size=outcome.bytes,
                    seconds=time.monotonic() - started,
                )
            )
            log.info(
                "%s -> %s: copied %s (%s)",
                pair.source,
                pair.target,
                short(decision.digest),
                decision.reason,
            )
        return False

    def _decided(
        self,
        task: Task,
        pair: Pair,
        decision: Decision,
        stats: RunStats,
        started: float,
        size: int = 0,
    ) -> None:
        """Record an image that needs no copy (`size`: bytes of referrers that did), or (dry
        run) what its copy would be."""
        skip = decision.action is TagAction.SKIP
        target_digest = decision.target_digest
        if skip and self._relay.preserves_digests:
            target_digest = decision.digest
        stats.record(
            image_result(
                task,
                pair,
                ImageOutcome.SKIPPED if skip else ImageOutcome.COPIED,
                source_digest=decision.digest if self._dry_run else decision.source_digest,
                target_digest=target_digest,
                reason=decision.reason,
                size=size,
                seconds=time.monotonic() - started,
            )
        )
        if skip and not self._dry_run:
            level = logging.INFO if task.verbose else logging.DEBUG
            digest = short(decision.digest)
            log.log(level, "%s: %s (%s), skipped", pair.target, decision.reason, digest)


async def _learn_quota(source: RegistryClient, ref: Reference) -> None:
    """A rate-limited source whose registry has not said its quota yet: ask with a free
    HEAD before a GET could spend the last pulls."""
    quota = source.pull_quota
    if quota is not None and quota.unknown():
        await manifests.head_manifest(source, ref)
        quota.probed()
