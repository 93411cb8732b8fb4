"""Deciding one image: what the target should hold, and whether it already does.

Two HEADs decide most images: the target tag's digest and the source tag's. When the target
lacks the tag, one GET of the source manifest gives both its digest and its bytes (which the
copy then pushes without fetching them again), and the run asks once per target repository
whether it has any tag (`sync/fresh.py`: a new one needs no blob checks). A mapping that
selects platforms resolves the source index first (remembered per digest, so an unchanged
source costs no GET on the next run). Relays that rewrite manifests (Docker) are judged by
the image config instead, fetched only when the digests differ, and a match is remembered
while both digests stay the same, so a periodic no-op needs only the two HEADs after its
first run.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TypeVar

from msgspec import Struct

from dregsy.config.types import Mapping
from dregsy.copy.plan import TagAction, TagDecision, decide_tag
from dregsy.errors import NotFoundError
from dregsy.manifest import Manifest
from dregsy.platform import parse_platform
from dregsy.reference import Reference
from dregsy.registry import manifests
from dregsy.registry.client import RegistryClient
from dregsy.relays.base import Relay
from dregsy.sync.fresh import NewRepositories
from dregsy.sync.selection import Selected, select, wants_selection
from dregsy.sync.unchanged import same_config

SELECTION_CACHE_SIZE = 4096  # entries per cache of the decider
_V = TypeVar("_V")


class Decision(Struct, frozen=True):
    action: TagAction
    reason: str
    digest: str  # what the target gets: the source's digest, or the selected manifest's
    manifest: Manifest | None = None  # that manifest, when already in hand (fetched or built)
    rebuilt: bool = False  # the manifest is new: a subset index made here
    new_repository: bool = False  # the target repository had no tags: skip blob checks
    source_digest: str | None = None  # what the source tag points at
    target_digest: str | None = None  # what the target tag pointed at (None: not there)


class Decider:
    """Decides images for one relay; remembers platform selections and config matches
    across the runs of one configuration.

    `head_only` (dry runs): a tag missing at the target costs a HEAD of the source, not the
    GET that would otherwise fetch its digest and bytes at once for the copy.
    """

    def __init__(self, relay: Relay, *, head_only: bool = False) -> None:
        self._relay = relay
        self._head_only = head_only
        self._selections: OrderedDict[tuple[object, ...], Selected] = OrderedDict()
        # (source, its digest, target, its digest, platform) pairs whose configs matched
        self._same_config: OrderedDict[tuple[object, ...], bool] = OrderedDict()

    async def decide(
        self,
        source: RegistryClient,
        target: RegistryClient,
        src: Reference,
        dst: Reference,
        mapping: Mapping,
        new_repositories: NewRepositories | None = None,
    ) -> Decision:
        existing = await manifests.head_manifest(target, dst)
        fetched: Manifest | None = None
        new_repository = False
        if existing is None and not self._head_only:
            if new_repositories is not None and self._relay.uses_new_repositories:
                top, new_repository = await asyncio.gather(
                    manifests.get_manifest(source, src),
                    new_repositories.is_new(target, dst.repository),
                )
            else:
                top = await manifests.get_manifest(source, src)
            fetched, digest = top, top.digest
        else:
            digest = await source_digest(source, src)
        selected = Selected(digest, fetched)
        if self._relay.preserves_digests and wants_selection(mapping.platform, mapping.platforms):
            selected = await self._select(source, src, digest, mapping, fetched)
        target_digest = existing.digest if existing else None
        if existing is not None and target_digest is None:
            # The registry's HEAD did not say (no Docker-Content-Digest): hash its manifest.
            target_digest = (await manifests.get_manifest(target, dst)).digest
        tag = decide_tag(selected.digest, target_digest)
        if (
            tag.action is TagAction.COPY
            and target_digest is not None
            and not self._relay.preserves_digests
        ):
            platform = mapping.platform or self._relay.default_platform
            seen = (src.repository, digest, dst, target_digest, platform)
            if seen in self._same_config or await same_config(
                source, target, src.repository.digest(digest), dst, parse_platform(platform)
            ):
                # Remembered: while neither digest changes, later runs need no GETs.
                _remember(self._same_config, seen, True)
                tag = TagDecision(TagAction.SKIP, "same image config")
        return Decision(
            tag.action,
            tag.reason,
            selected.digest,
            selected.manifest,
            selected.rebuilt,
            new_repository,
            source_digest=digest,
            target_digest=target_digest,
        )

    async def _select(
        self,
        client: RegistryClient,
        src: Reference,
        digest: str,
        mapping: Mapping,
        fetched: Manifest | None,
    ) -> Selected:
        key = (src.repository, digest, mapping.platform, mapping.platforms)
        found = self._selections.get(key)
        if found is None:
            found = await select(
                client,
                src.repository,
                digest,
                platform=mapping.platform,
                platforms=mapping.platforms,
                top=fetched,
            )
            _remember(self._selections, key, found)
        return found


def _remember(
    cache: OrderedDict[tuple[object, ...], _V], key: tuple[object, ...], value: _V
) -> None:
    """Keep `value` under `key`, forgetting the oldest entries past the cache's size."""
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > SELECTION_CACHE_SIZE:
        cache.popitem(last=False)


async def source_digest(client: RegistryClient, ref: Reference) -> str:
    """The digest the source tag points at: from a HEAD, or a GET if HEAD does not say."""
    head = await manifests.head_manifest(client, ref)
    if head is None:
        raise NotFoundError(404, "HEAD", str(ref), "tag not found in source")
    if head.digest is not None:
        return head.digest
    return (await manifests.get_manifest(client, ref)).digest
