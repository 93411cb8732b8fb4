"""Manifests and indexes: parsed from their exact bytes, which are what gets copied."""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from dregsy import jsontext, mediatypes
from dregsy.digest import is_digest
from dregsy.errors import UnsupportedManifestError

# Bound on what we read as a manifest (regclient: 8 MiB pull, 4 MiB push).
MAX_MANIFEST_BYTES = 8 * 1024 * 1024


class Platform(Struct, frozen=True):
    """The `platform` of an index entry."""

    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text


class Descriptor(Struct, frozen=True):
    """A reference to content by digest, with its media type and size."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    urls: tuple[str, ...] = ()

    @property
    def distributable(self) -> bool:
        """False for foreign layers that live elsewhere (they are not copied)."""
        return not (self.urls and self.media_type in mediatypes.NON_DISTRIBUTABLE)


class Manifest(Struct, frozen=True):
    """An image manifest or an index, with the exact bytes it was fetched as."""

    media_type: str
    digest: str
    raw: bytes
    config: Descriptor | None
    layers: tuple[Descriptor, ...]
    manifests: tuple[Descriptor, ...]  # the entries of an index

    @property
    def is_index(self) -> bool:
        return self.media_type in mediatypes.INDEXES

    @property
    def blobs(self) -> tuple[Descriptor, ...]:
        """Config and layers that must exist before this manifest can be pushed."""
        found = ((self.config,) if self.config else ()) + self.layers
        return tuple(d for d in found if d.distributable)


def parse_manifest(raw: bytes, *, digest: str, content_type: str | None) -> Manifest:
    """Parse manifest bytes; the media type comes from the document, else the header."""
    try:
        doc = jsontext.loads(raw)
    except jsontext.JSONError as exc:
        raise UnsupportedManifestError(f"manifest {digest} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise UnsupportedManifestError(f"manifest {digest} is not a JSON object")
    media_type = doc.get("mediaType") or (content_type or "").split(";")[0].strip()
    if media_type in mediatypes.SCHEMA1 or doc.get("schemaVersion") == 1:
        raise UnsupportedManifestError(
            f"manifest {digest} is Docker schema 1, which is deprecated and not copied"
        )
    if not media_type:
        # An OCI manifest may omit mediaType; its shape tells what it is.
        media_type = mediatypes.OCI_INDEX if "manifests" in doc else mediatypes.OCI_MANIFEST
    if media_type not in mediatypes.SUPPORTED:
        raise UnsupportedManifestError(f"manifest {digest} has unsupported type {media_type!r}")
    try:
        if media_type in mediatypes.INDEXES:
            entries = tuple(_descriptor(d) for d in doc.get("manifests") or ())
            return Manifest(media_type, digest, raw, None, (), entries)
        layers = tuple(_descriptor(d) for d in doc.get("layers") or ())
        return Manifest(media_type, digest, raw, _descriptor(doc["config"]), layers, ())
    except (KeyError, TypeError, ValueError) as exc:
        raise UnsupportedManifestError(f"manifest {digest} is malformed: {exc}") from exc


def _descriptor(data: Any) -> Descriptor:
    if not isinstance(data, dict):
        raise TypeError("descriptor is not an object")
    digest = data["digest"]
    if not isinstance(digest, str) or not is_digest(digest):
        raise ValueError(f"invalid digest {digest!r}")
    size = data["size"]
    if not isinstance(size, int) or size < 0:
        raise ValueError(f"invalid size {size!r} for {digest}")
    platform = None
    if isinstance(p := data.get("platform"), dict):
        platform = Platform(str(p.get("os", "")), str(p.get("architecture", "")), p.get("variant"))
    urls = tuple(str(u) for u in data.get("urls") or ())
    return Descriptor(str(data.get("mediaType", "")), digest, size, platform, urls)
