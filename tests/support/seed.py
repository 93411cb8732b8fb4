"""The standard seed images: ``demo/app:v1``, ``demo/app:v2`` and ``demo/multi:m1``.

:func:`seed_images` builds them in a fresh OCI layout (unique random content each call)
and pushes them to a registry with ``skopeo copy --all --preserve-digests``, so the
registry's digests equal the layout's. Works for plain, htpasswd, TLS and token
registries (pass *creds* for auth; TLS is not verified unless *cert_dir* is given).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.support import skopeo
from tests.support.oci import Image, Index, OciLayout
from tests.support.registry import RegistryServer

APP_LAYER_SIZES = (1024, 2048)
MULTI_PLATFORMS = (("linux", "amd64"), ("linux", "arm64"))


@dataclass(frozen=True)
class SeededImages:
    """What was pushed: images per ``"repo:tag"`` and the layout they came from."""

    registry: RegistryServer
    layout: OciLayout
    images: dict[str, Image | Index]

    @property
    def digests(self) -> dict[str, str]:
        """Expected manifest digest per ``"repo:tag"``."""
        return {ref: image.digest for ref, image in self.images.items()}

    @property
    def repositories(self) -> list[str]:
        """The seeded repositories, sorted."""
        return sorted({ref.rsplit(":", 1)[0] for ref in self.images})

    def digest(self, ref: str) -> str:
        """Expected digest of ``"repo:tag"``."""
        return self.images[ref].digest

    def image(self, ref: str) -> Image:
        """The single-platform image seeded at ``"repo:tag"``."""
        image = self.images[ref]
        if not isinstance(image, Image):
            raise TypeError(f"{ref} is a multi-platform index")
        return image

    def index(self, ref: str) -> Index:
        """The multi-platform index seeded at ``"repo:tag"``."""
        index = self.images[ref]
        if not isinstance(index, Index):
            raise TypeError(f"{ref} is a single-platform image")
        return index

    def tags(self, repository: str) -> list[str]:
        """The seeded tags of *repository*, sorted."""
        return sorted(
            ref.rsplit(":", 1)[1] for ref in self.images if ref.rsplit(":", 1)[0] == repository
        )


def seed_images(
    registry: RegistryServer,
    layout_dir: Path,
    creds: tuple[str, str] | None = None,
    *,
    cert_dir: Path | None = None,
) -> SeededImages:
    """Build the seed layout in *layout_dir* and push it to *registry*."""
    layout = OciLayout(layout_dir)
    images: dict[str, Image | Index] = {
        "demo/app:v1": layout.add_image("app-v1", layer_sizes=APP_LAYER_SIZES),
        "demo/app:v2": layout.add_image("app-v2", layer_sizes=APP_LAYER_SIZES),
        "demo/multi:m1": layout.add_index("multi-m1", MULTI_PLATFORMS),
    }
    for ref, image in images.items():
        assert image.tag is not None
        skopeo.push(
            layout_dir,
            image.tag,
            f"{registry.host}/{ref}",
            creds=creds,
            tls_verify=cert_dir is not None,
            cert_dir=cert_dir,
        )
    return SeededImages(registry=registry, layout=layout, images=images)
