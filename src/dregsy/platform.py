"""Platforms: choosing images from a multi-platform index, and indexes of a subset.

A subset index keeps the source index's own bytes as far as possible (the same keys in the
same order, entries unchanged, only `manifests` filtered), so the same source always gives
the same new digest and an unchanged subset is recognised on the next run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from dregsy.digest import digest_of
from dregsy.errors import DregsyError
from dregsy.manifest import Descriptor, Manifest, Platform, parse_manifest


def parse_platform(text: str) -> Platform:
    """`os/arch[/variant]` as a Platform."""
    parts = text.strip().split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"invalid platform {text!r}: expected os/arch[/variant]")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def matches(entry: Platform | None, wanted: Platform) -> bool:
    """Whether an index entry's platform is `wanted` (a wanted variant must match)."""
    if entry is None or (entry.os, entry.architecture) != (wanted.os, wanted.architecture):
        return False
    return wanted.variant is None or entry.variant == wanted.variant


def pick_platform(index: Manifest, wanted: Platform) -> Descriptor:
    """The index entry for `wanted`; an error naming the platforms there are if none."""
    for entry in index.manifests:
        if matches(entry.platform, wanted):
            return entry
    have = ", ".join(str(e.platform) for e in index.manifests if e.platform) or "none"
    raise DregsyError(f"index {index.digest} has no image for {wanted} (it has: {have})")


def subset_index(index: Manifest, wanted: Sequence[Platform]) -> Manifest:
    """A new index listing exactly the entries of `index` for the `wanted` platforms."""
    keep = [pick_platform(index, p).digest for p in wanted]
    doc = json.loads(index.raw)
    doc["manifests"] = [m for m in doc.get("manifests", []) if m.get("digest") in keep]
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return parse_manifest(raw, digest=digest_of(raw), content_type=index.media_type)
