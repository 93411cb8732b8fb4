"""The workloads: W1 (10 repos x 3 tags, 2 x 5 MiB layers), W2 (300 x 5 tiny), W3 (1 GiB).

W4 is W1 with three tags changed; W5 is W2's no-op and W1's full copy through latency proxies.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from tests.support.oci import layer_blob

from bench.push import OCI_LAYER, Blob, Pusher, config_blob

MiB = 1024 * 1024


@dataclass
class Workload:
    """Repositories and tags in the source, and how to change some of them (W4)."""

    name: str
    repos: list[str]
    tags: list[str]
    manifests: dict[tuple[str, str], bytes] = field(default_factory=dict)

    def pairs(self) -> list[tuple[str, str]]:
        """(source repository, target repository) for every repository."""
        return [(repo, "mirror/" + repo.rsplit("/", 1)[1]) for repo in self.repos]


def _tar_layer(size: int) -> tuple[Blob, str]:
    """A real tar+gzip layer (the Docker daemon unpacks them) and its diff_id."""
    data, diff_id = layer_blob(os.urandom(size))
    return Blob.of(data, OCI_LAYER), diff_id


async def _push_image(
    pusher: Pusher, repo: str, tag: str, sizes: tuple[int, ...], label: str
) -> None:
    built = [_tar_layer(size) for size in sizes]
    config = config_blob(f"{label}-{repo}-{tag}-{os.urandom(4).hex()}", [d for _, d in built])
    await pusher.image(repo, tag, config, [b for b, _ in built])


async def _seed_images(
    pusher: Pusher, workload: Workload, layer_sizes: tuple[int, ...], label: str
) -> None:
    await asyncio.gather(
        *(
            _push_image(pusher, r, t, layer_sizes, label)
            for r in workload.repos
            for t in workload.tags
        )
    )


async def seed_w1(base_url: str) -> Workload:
    workload = Workload("W1", [f"bench/repo{i}" for i in range(10)], ["t1", "t2", "t3"])
    async with Pusher(base_url) as pusher:
        await _seed_images(pusher, workload, (5 * MiB, 5 * MiB), "w1")
    return workload


async def seed_w2(base_url: str, repos: int = 300) -> Workload:
    workload = Workload("W2", [f"bench/tiny{i}" for i in range(repos)], [f"t{i}" for i in range(5)])
    async with Pusher(base_url, parallel=16) as pusher:
        await _seed_images(pusher, workload, (256,), "w2")
    return workload


def _big_blob(size: int, seed: int) -> Blob:
    """A blob of `size` random bytes, produced twice from a seed: never held whole."""

    async def chunks() -> AsyncIterator[bytes]:
        rng = random.Random(seed)
        left = size
        while left:
            n = min(MiB, left)
            yield rng.randbytes(n)
            left -= n

    digest = hashlib.sha256()
    rng = random.Random(seed)
    left = size
    while left:
        n = min(MiB, left)
        digest.update(rng.randbytes(n))
        left -= n
    return Blob("sha256:" + digest.hexdigest(), size, OCI_LAYER, chunks)


async def seed_w3(base_url: str, size: int = 1024 * MiB) -> Workload:
    workload = Workload("W3", ["bench/big"], ["t1"])
    async with Pusher(base_url) as pusher:
        layer = _big_blob(size, seed=3)
        config = config_blob("w3", ["sha256:" + "0" * 64])  # not a tar: no relay unpacks W3
        await pusher.image("bench/big", "t1", config, [layer])
    return workload


async def change_tags(base_url: str, changes: list[tuple[str, str]]) -> None:
    """W4: push new images to these (repository, tag) pairs."""
    async with Pusher(base_url) as pusher:
        for repo, tag in changes:
            await _push_image(pusher, repo, tag, (5 * MiB, 5 * MiB), "w4")


async def restore_tags(base_url: str, saved: dict[tuple[str, str], tuple[bytes, str]]) -> None:
    """Point tags back at manifests saved before `change_tags` (their blobs are still there)."""
    async with Pusher(base_url) as pusher:
        for (repo, tag), (raw, media_type) in saved.items():
            await pusher.manifest(repo, tag, raw, media_type)
