"""Platforms: choosing images from a multi-platform index, and indexes of a subset.

Images are matched as containerd's platform matcher matches them: both sides normalised
(`linux/arm64` and `linux/arm64/v8` are one platform, `linux/arm` means `linux/arm/v7`),
and the best entry wins; only an older variant of the same architecture may stand in.

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


def normalize(platform: Platform) -> Platform:
    """containerd's normalisation: lower case, `x86_64` is `amd64`, `aarch64` is `arm64`,
    `arm64/v8` is plain `arm64`, and `arm` without a variant is `arm/v7`."""
    os_name = platform.os.lower()
    arch = platform.architecture.lower()
    variant = (platform.variant or "").lower()
    if arch == "i386":
        arch, variant = "386", ""
    elif arch in ("x86_64", "x86-64", "amd64"):
        arch = "amd64"
        variant = "" if variant == "v1" else variant
    elif arch in ("aarch64", "arm64"):
        arch = "arm64"
        variant = {"8": "", "v8": "", "v8.0": "", "9": "v9", "9.0": "v9", "v9.0": "v9"}.get(
            variant, variant
        )
    elif arch == "armhf":
        arch, variant = "arm", "v7"
    elif arch == "armel":
        arch, variant = "arm", "v6"
    elif arch == "arm":
        variant = {"": "v7", "7": "v7", "5": "v5", "6": "v6", "8": "v8"}.get(variant, variant)
    return Platform(os_name, arch, variant or None)


def _variant_number(variant: str | None, default: int) -> int | None:
    text = (variant or "").removeprefix("v")
    if not text:
        return default
    return int(text) if text.isdecimal() else None


def compatible(wanted: Platform) -> list[Platform]:
    """The platforms an image for `wanted` may be, best first (normalised): `wanted` itself,
    then older variants of the same architecture (arm/v7 runs arm/v6 and arm/v5 images,
    amd64/v3 runs v2 and v1). Unlike containerd, never another architecture: a mirror of
    arm64 images must not fill up with 32-bit arm ones."""
    exact = normalize(wanted)
    found = [exact]
    arch = exact.architecture
    if arch == "arm":
        number = _variant_number(exact.variant, 7)
        lowest = 5
    elif arch == "amd64":
        number = _variant_number(exact.variant, 1)
        lowest = 1
    else:
        return found
    if number is None:
        return found
    for older in range(number - 1, lowest - 1, -1):
        variant = None if arch == "amd64" and older == 1 else f"v{older}"
        found.append(Platform(exact.os, arch, variant))
    return found


def matches(entry: Platform | None, wanted: Platform) -> bool:
    """Whether an index entry's platform is `wanted`, after normalisation on both sides
    (`linux/arm64` is `linux/arm64/v8`, `linux/arm` is `linux/arm/v7`)."""
    return entry is not None and normalize(entry) == normalize(wanted)


def pick_platform(index: Manifest, wanted: Platform) -> Descriptor:
    """The index entry that best matches `wanted`, as containerd picks it: the same platform
    (normalised), else the newest older variant of the same architecture (`is_exact` tells
    the two apart, so callers can say so); an error naming the platforms there are if none."""
    ranked = compatible(wanted)
    best: tuple[int, Descriptor] | None = None
    for entry in index.manifests:
        if entry.platform is None:
            continue
        platform = normalize(entry.platform)
        if platform in ranked:
            rank = ranked.index(platform)
            if best is None or rank < best[0]:
                best = (rank, entry)
    if best is not None:
        return best[1]
    have = ", ".join(str(e.platform) for e in index.manifests if e.platform) or "none"
    raise DregsyError(f"index {index.digest} has no image for {wanted} (it has: {have})")


def is_exact(entry: Descriptor, wanted: Platform) -> bool:
    """Whether a picked entry is `wanted` itself rather than an older compatible variant."""
    return matches(entry.platform, wanted)


def subset_index(index: Manifest, wanted: Sequence[Platform]) -> Manifest:
    """A new index listing exactly the entries of `index` for the `wanted` platforms."""
    keep = [pick_platform(index, p).digest for p in wanted]
    doc = json.loads(index.raw)
    doc["manifests"] = [m for m in doc.get("manifests", []) if m.get("digest") in keep]
    raw = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    return parse_manifest(raw, digest=digest_of(raw), content_type=index.media_type)
