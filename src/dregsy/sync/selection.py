"""Platform selection for relays that copy manifests as they are (native, skopeo).

`platform: os/arch[/variant]` makes the target tag hold that platform's own manifest;
`platforms: [...]` makes it hold a new index listing exactly those platforms. Either way the
unchanged-check compares the target against what the selection produces, so an unchanged
source is still skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from msgspec import Struct

from dregsy.copy.plan import short
from dregsy.manifest import Manifest
from dregsy.platform import is_exact, parse_platform, pick_platform, subset_index
from dregsy.reference import Repository
from dregsy.registry import manifests
from dregsy.registry.client import RegistryClient

log = logging.getLogger(__name__)


class Selected(Struct, frozen=True):
    """What goes to the target: a manifest digest, and the manifest itself if it is new."""

    digest: str
    manifest: Manifest | None = None  # that manifest, if in hand (fetched, or built here)
    rebuilt: bool = False  # a subset index that exists nowhere yet


def wants_selection(platform: str | None, platforms: Sequence[str] | None) -> bool:
    return bool(platforms) or platform not in (None, "all")


async def select(
    client: RegistryClient,
    repo: Repository,
    digest: str,
    *,
    platform: str | None,
    platforms: Sequence[str] | None,
    top: Manifest | None = None,
) -> Selected:
    """Resolve the source manifest `digest` (`top`, if fetched) to what the platforms select."""
    if top is None:
        top = await manifests.get_manifest(client, repo.digest(digest))
    if not top.is_index:
        log.debug("%s@%s is a single image: copied whatever its platform", repo, short(digest))
        return Selected(digest, top)
    for text in platforms or (platform,):
        assert text is not None
        wanted = parse_platform(text)
        entry = pick_platform(top, wanted)
        if not is_exact(entry, wanted):
            log.warning(
                "%s@%s has no image for %s: copying %s, the closest compatible variant",
                repo,
                short(digest),
                text,
                entry.platform,
            )
    if platforms:
        subset = subset_index(top, [parse_platform(p) for p in platforms])
        return Selected(subset.digest, subset, rebuilt=True)
    assert platform is not None
    return Selected(pick_platform(top, parse_platform(platform)).digest)
