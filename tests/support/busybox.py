"""A stand-in for Docker Hub's `library/busybox`, the image every dregsy e2e config syncs.

dregsy 0.5.2's `cmd/dregsy/main_test.go` expects tag sets computed from busybox's real tag
list; this repository has the same shape of tags (versions 1.26.1 to 1.36.1, each also with
`-glibc`, `-musl` and `-uclibc`, minor tags such as `1.31`, and `latest`, `glibc`, `musl`,
`uclibc`), so the same filters select the same tags. `latest` is a multi-platform index with
busybox's platforms (arm64 without a variant, as Docker Hub lists it); the two tags
dregsy's digest configs pin are images of their own; every other tag shares one image,
pushed once and then tagged by a manifest PUT.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support import skopeo
from tests.support.oci import OCI_MANIFEST, Image, Index, OciLayout
from tests.support.registry import RegistryServer

REPOSITORY = "library/busybox"
VERSIONS = (
    "1.26.1",
    "1.26.2",
    "1.29.2",
    "1.29.3",
    "1.31.0",
    "1.31.1",
    "1.33.0",
    "1.33.1",
    "1.34.0",
    "1.34.1",
    "1.35.0",
    "1.36.0",
    "1.36.1",
)
FLAVOURS = ("", "-glibc", "-musl", "-uclibc")
MINORS = ("1.26", "1.29", "1.31", "1.33", "1.34", "1.35", "1.36")
NAMED = ("glibc", "musl", "uclibc", "stable", "unstable")
PLATFORMS = (
    ("linux", "amd64"),
    ("linux", "386"),
    ("linux", "arm", "v5"),
    ("linux", "arm", "v6"),
    ("linux", "arm", "v7"),
    ("linux", "arm64"),  # no variant: dregsy's `platform: linux/arm64/v8` must find it
    ("linux", "ppc64le"),
)
OWN_IMAGES = ("1.36.0-musl", "1.35.0-uclibc")  # pinned by digest in dregsy's digest configs


def all_tags() -> list[str]:
    tags = [f"{v}{f}" for v in VERSIONS for f in FLAVOURS]
    return sorted([*tags, *MINORS, *NAMED, "latest"])


@dataclass(frozen=True)
class Busybox:
    """What was pushed to `registry`: `latest` (an index), and images by tag."""

    registry: RegistryServer
    layout: Path
    latest: Index
    own: dict[str, Image]  # the tags with an image of their own
    shared: Image  # every other tag

    def image(self, tag: str) -> Image:
        return self.own.get(tag, self.shared)

    def platform(self, *platform: str) -> Image:
        for image in self.latest.images:
            if image.platform == platform:
                return image
        raise KeyError(platform)


def put_manifest(registry: RegistryServer, repository: str, tag: str, image: Image) -> None:
    """Tag `image` (already in `repository`) as `tag`, with a plain manifest PUT."""
    url = f"http://{registry.host}/v2/{repository}/manifests/{tag}"
    response = httpx.put(
        url, content=image.manifest_bytes, headers={"Content-Type": OCI_MANIFEST}, timeout=30
    )
    response.raise_for_status()


def seed_busybox(
    registry: RegistryServer, layout_dir: Path, repository: str = REPOSITORY
) -> Busybox:
    layout = OciLayout(layout_dir)
    latest = layout.add_index("latest", PLATFORMS, layer_sizes=(256,))
    shared = layout.add_image("shared", layer_sizes=(256,))
    own = {tag: layout.add_image(tag, layer_sizes=(256,)) for tag in OWN_IMAGES}
    target = f"{registry.host}/{repository}"
    skopeo.push(layout_dir, "latest", f"{target}:latest")
    shared_tags = [t for t in all_tags() if t not in OWN_IMAGES and t != "latest"]
    skopeo.push(layout_dir, "shared", f"{target}:{shared_tags[0]}")
    for tag in OWN_IMAGES:
        skopeo.push(layout_dir, tag, f"{target}:{tag}")
    for tag in shared_tags[1:]:
        put_manifest(registry, repository, tag, shared)
    return Busybox(registry, layout_dir, latest, own, shared)
