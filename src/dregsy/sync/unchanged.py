"""Is the target already up to date? Decided with as few requests as possible.

Relays that copy manifests byte for byte are judged by manifest digests alone (two HEADs).
Relays that rewrite manifests (the Docker daemon recompresses layers and re-serialises the
manifest) are judged by the image config digest, which survives the rewrite: only when the
digests differ are the two manifests (and a source index's platform entry) fetched.
"""

from __future__ import annotations

from dregsy.manifest import Platform
from dregsy.platform import pick_platform
from dregsy.reference import Reference
from dregsy.registry import manifests
from dregsy.registry.client import RegistryClient


async def config_digest(client: RegistryClient, ref: Reference, platform: Platform) -> str | None:
    """The config digest of the image `ref` names, resolving an index to `platform`."""
    manifest = await manifests.get_manifest(client, ref)
    if manifest.is_index:
        child = ref.repository.digest(pick_platform(manifest, platform).digest)
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
