"""Is the target already up to date? Decided with as few requests as possible.

Relays that copy manifests byte for byte are judged by manifest digests alone (two HEADs).
Relays that rewrite manifests (the Docker daemon recompresses layers and re-serialises the
manifest) are judged by the image config digest, which survives the rewrite: only when the
digests differ are the two manifests (and a source index's platform entry) fetched.
"""

from __future__ import annotations

from dregsy.errors import DregsyError
from dregsy.manifest import Manifest, Platform
from dregsy.reference import Reference
from dregsy.registry import manifests
from dregsy.registry.client import RegistryClient


def parse_platform(text: str) -> Platform:
    """`os/arch[/variant]` as a Platform."""
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ValueError(f"invalid platform {text!r}: expected os/arch[/variant]")
    return Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def pick_platform(index: Manifest, wanted: Platform) -> str:
    """The digest of the index entry for `wanted` (a missing variant matches any)."""
    for entry in index.manifests:
        p = entry.platform
        if p is None or (p.os, p.architecture) != (wanted.os, wanted.architecture):
            continue
        if wanted.variant is None or p.variant == wanted.variant:
            return entry.digest
    raise DregsyError(f"index {index.digest} has no image for platform {wanted}")


async def config_digest(
    client: RegistryClient, ref: Reference, platform: Platform
) -> str | None:
    """The config digest of the image `ref` names, resolving an index to `platform`."""
    manifest = await manifests.get_manifest(client, ref)
    if manifest.is_index:
        child = ref.repository.digest(pick_platform(manifest, platform))
        manifest = await manifests.get_manifest(client, child)
    return manifest.config.digest if manifest.config else None


async def same_config(
    source: RegistryClient,
    target: RegistryClient,
    src: Reference,
    dst: Reference,
    platform: Platform,
) -> bool:
    """Whether source and target images share their config (so the copy can be skipped)."""
    wanted = await config_digest(source, src, platform)
    return wanted is not None and wanted == await config_digest(target, dst, platform)
