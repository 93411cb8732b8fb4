"""OCI image layouts built with the standard library, for pushing test images with skopeo.

A layout is a directory with ``oci-layout``, ``index.json`` (one descriptor per tag,
annotated ``org.opencontainers.image.ref.name``) and ``blobs/sha256/<hex>``. Layers are a
PAX tar holding one file of random bytes (mtime 0, mode 0644), gzip level 1 with mtime 0;
random data does not compress, so a layer's size is about the size asked for. Every JSON
document is serialised once (compact, sorted keys) and its digest is taken over exactly
the bytes written, so the digests here are the ones a registry reports after
``skopeo copy --all --preserve-digests``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
REF_NAME = "org.opencontainers.image.ref.name"
LABEL_KEY = "org.dregsy.test.id"
CREATED = "2024-01-01T00:00:00Z"

Platform = tuple[str, str] | tuple[str, str, str]
"""``(os, architecture)`` or ``(os, architecture, variant)``."""


def canonical_json(document: Any) -> bytes:
    """Compact JSON with sorted keys: the exact bytes stored and digested."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of *data*."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _descriptor(media_type: str, data: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}


def _platform_dict(platform: Platform) -> dict[str, str]:
    result = {"os": platform[0], "architecture": platform[1]}
    if len(platform) == 3:
        result["variant"] = platform[2]
    return result


def layer_blob(content: bytes, name: str = "data.bin") -> tuple[bytes, str]:
    """A gzipped PAX tar holding *content* as one file; returns ``(gzip bytes, diff_id)``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        info.mode = 0o644
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        tar.addfile(info, io.BytesIO(content))
    raw = buffer.getvalue()
    return gzip.compress(raw, compresslevel=1, mtime=0), sha256_digest(raw)


@dataclass(frozen=True)
class Image:
    """One single-platform image (OCI manifest) in a layout."""

    tag: str | None
    """The layout tag, None for the children of an index."""
    digest: str
    manifest_bytes: bytes
    config_digest: str
    config_bytes: bytes
    layer_digests: tuple[str, ...]
    diff_ids: tuple[str, ...]
    layer_sizes: tuple[int, ...]
    """Compressed sizes, as in the manifest."""
    platform: Platform
    media_type: str = OCI_MANIFEST

    @property
    def size(self) -> int:
        """Manifest size in bytes."""
        return len(self.manifest_bytes)

    @property
    def blob_digests(self) -> tuple[str, ...]:
        """Config and layer digests: every blob the manifest references."""
        return (self.config_digest, *self.layer_digests)


@dataclass(frozen=True)
class Index:
    """A multi-platform image: an OCI index over one :class:`Image` per platform."""

    tag: str
    digest: str
    manifest_bytes: bytes
    images: tuple[Image, ...]
    media_type: str = OCI_INDEX

    @property
    def size(self) -> int:
        """Index size in bytes."""
        return len(self.manifest_bytes)

    def image_for(self, os_name: str, architecture: str) -> Image:
        """The child image for a platform."""
        for image in self.images:
            if image.platform[:2] == (os_name, architecture):
                return image
        raise KeyError(f"{os_name}/{architecture}")


@dataclass
class OciLayout:
    """An OCI image layout directory that images and indexes are added to."""

    path: Path
    _tags: dict[str, dict[str, Any]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        """Create the layout, or reopen one keeping the tags of its ``index.json``."""
        (self.path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        index_path = self.path / "index.json"
        if index_path.exists():
            for descriptor in json.loads(index_path.read_bytes()).get("manifests", []):
                tag = descriptor.get("annotations", {}).get(REF_NAME)
                if tag is not None:
                    self._tags[tag] = descriptor
        (self.path / "oci-layout").write_bytes(canonical_json({"imageLayoutVersion": "1.0.0"}))
        self._write_index()

    def blob_path(self, digest: str) -> Path:
        """Where the blob with *digest* is stored."""
        algorithm, _, hexdigest = digest.partition(":")
        return self.path / "blobs" / algorithm / hexdigest

    def ref(self, tag: str) -> str:
        """The skopeo reference ``oci:<path>:<tag>``."""
        return f"oci:{self.path}:{tag}"

    @property
    def tags(self) -> list[str]:
        """The tags in ``index.json``, in insertion order."""
        return list(self._tags)

    def add_image(
        self,
        tag: str,
        *,
        layer_sizes: Sequence[int] = (1024,),
        platform: Platform = ("linux", "amd64"),
        seed: int | None = None,
        label: str | None = None,
    ) -> Image:
        """Add a single-platform image tagged *tag* with random layers of *layer_sizes*.

        With *seed* the layers are reproducible (``random.Random(seed)``), so two images
        with the same seed share their layer blobs; their configs still differ through
        the label (default: unique, or derived from tag and seed when seeded).
        """
        randbytes = _random_source(seed)
        if label is None:
            label = f"{tag}/seed={seed}" if seed is not None else os.urandom(8).hex()
        image = self._build_image(tag, layer_sizes, platform, randbytes, label)
        self._tag(tag, OCI_MANIFEST, image.manifest_bytes)
        return image

    def add_index(
        self,
        tag: str,
        platforms: Sequence[Platform] = (("linux", "amd64"), ("linux", "arm64")),
        *,
        layer_sizes: Sequence[int] = (1024,),
        seed: int | None = None,
        label: str | None = None,
    ) -> Index:
        """Add a multi-platform index tagged *tag*: one image per platform, each with its
        own random layers."""
        randbytes = _random_source(seed)
        if label is None:
            label = f"{tag}/seed={seed}" if seed is not None else os.urandom(8).hex()
        images = tuple(
            self._build_image(
                None, layer_sizes, platform, randbytes, f"{label}/{'/'.join(platform)}"
            )
            for platform in platforms
        )
        index_doc = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {**_descriptor(OCI_MANIFEST, image.manifest_bytes), "platform": _platform_dict(p)}
                for image, p in zip(images, platforms, strict=True)
            ],
        }
        data = self._write_blob(canonical_json(index_doc))
        self._tag(tag, OCI_INDEX, data)
        return Index(tag=tag, digest=sha256_digest(data), manifest_bytes=data, images=images)

    # -- internals -----------------------------------------------------------------------

    def _build_image(
        self,
        tag: str | None,
        layer_sizes: Sequence[int],
        platform: Platform,
        randbytes: Callable[[int], bytes],
        label: str,
    ) -> Image:
        layers = [layer_blob(randbytes(size)) for size in layer_sizes]
        for blob, _ in layers:
            self._write_blob(blob)
        diff_ids = [diff_id for _, diff_id in layers]
        config: dict[str, Any] = {
            "architecture": platform[1],
            "os": platform[0],
            "created": CREATED,
            "config": {"Labels": {LABEL_KEY: label}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [
                {"created": CREATED, "created_by": f"dregsy test layer {i}"}
                for i in range(len(layers))
            ],
        }
        if len(platform) == 3:
            config["variant"] = platform[2]
        config_bytes = self._write_blob(canonical_json(config))
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": _descriptor(OCI_CONFIG, config_bytes),
            "layers": [_descriptor(OCI_LAYER_GZIP, blob) for blob, _ in layers],
        }
        manifest_bytes = self._write_blob(canonical_json(manifest))
        return Image(
            tag=tag,
            digest=sha256_digest(manifest_bytes),
            manifest_bytes=manifest_bytes,
            config_digest=sha256_digest(config_bytes),
            config_bytes=config_bytes,
            layer_digests=tuple(sha256_digest(blob) for blob, _ in layers),
            diff_ids=tuple(diff_ids),
            layer_sizes=tuple(len(blob) for blob, _ in layers),
            platform=platform,
        )

    def _write_blob(self, data: bytes) -> bytes:
        self.blob_path(sha256_digest(data)).write_bytes(data)
        return data

    def _tag(self, tag: str, media_type: str, data: bytes) -> None:
        descriptor = _descriptor(media_type, data)
        descriptor["annotations"] = {REF_NAME: tag}
        self._tags[tag] = descriptor
        self._write_index()

    def _write_index(self) -> None:
        index = {"schemaVersion": 2, "manifests": list(self._tags.values())}
        (self.path / "index.json").write_bytes(canonical_json(index))


def _random_source(seed: int | None) -> Callable[[int], bytes]:
    if seed is None:
        return os.urandom
    return random.Random(seed).randbytes
