"""Referrer lists, without I/O: reading them, naming their tags, merging the fallback index.

An artifact (a signature, an SBOM, an attestation) names the image it is about in its
`subject` field (OCI image spec 1.1). Registries that serve the referrers API list an
image's referrers at `/v2/<name>/referrers/<digest>` as an OCI index; registries that do
not hold that index under the fallback tag `<alg>-<hex>` of the subject digest (the
"referrers tag schema"), which clients keep up to date. Each entry is the referrer
manifest's descriptor with its `artifactType` and `annotations`.

cosign's older convention needs no index: tags `sha256-<hex>.sig`, `.att` and `.sbom` in
the image's repository.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from msgspec import Struct

from dregsy import jsontext, mediatypes
from dregsy.digest import is_digest
from dregsy.errors import UnsupportedManifestError

COSIGN_SUFFIXES = ("sig", "att", "sbom")
MAX_TAG_LENGTH = 128  # the distribution spec's tag grammar
_REFERRER_TAG_RE = re.compile(r"sha256-[a-f0-9]{64}(?:\.(?:sig|att|sbom))?|sha512-[a-f0-9]{121}")


class Referrer(Struct, frozen=True):
    """One entry of a referrers list: the descriptor as the list had it."""

    digest: str
    media_type: str
    artifact_type: str
    descriptor: dict[str, Any]  # the JSON object, kept as written (annotations and all)


def fallback_tag(digest: str) -> str:
    """The referrers tag schema's tag for a subject: `sha256:<hex>` -> `sha256-<hex>`."""
    return digest.replace(":", "-", 1)[:MAX_TAG_LENGTH]


def cosign_tags(digest: str) -> tuple[str, ...]:
    """cosign's tags for the signatures, attestations and SBOMs of `digest`."""
    return tuple(f"{fallback_tag(digest)}.{suffix}" for suffix in COSIGN_SUFFIXES)


def is_referrer_tag(tag: str) -> bool:
    """Whether a tag is a fallback tag or a cosign tag (copied with its image, not alone)."""
    return _REFERRER_TAG_RE.fullmatch(tag) is not None


def parse_referrers(raw: bytes, what: str) -> list[Referrer]:
    """The entries of a referrers index (the API's answer or a fallback tag's index)."""
    try:
        doc = jsontext.loads(raw)
    except jsontext.JSONError as exc:
        raise UnsupportedManifestError(f"{what} is not valid JSON: {exc}") from exc
    entries = doc.get("manifests") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise UnsupportedManifestError(f"{what} is not an image index")
    found: dict[str, Referrer] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            raise UnsupportedManifestError(f"{what} has an entry that is not an object")
        digest = entry.get("digest")
        if not isinstance(digest, str) or not is_digest(digest):
            raise UnsupportedManifestError(f"{what} has an entry with digest {digest!r}")
        media_type = str(entry.get("mediaType") or mediatypes.OCI_MANIFEST)
        found.setdefault(
            digest, Referrer(digest, media_type, str(entry.get("artifactType") or ""), entry)
        )
    return list(found.values())


def artifact_type_of(raw: bytes) -> str:
    """A manifest's artifact type: its `artifactType`, else its config's media type."""
    doc = jsontext.loads(raw)
    if not isinstance(doc, dict):
        return ""
    if isinstance(kind := doc.get("artifactType"), str) and kind:
        return kind
    config = doc.get("config")
    return str(config.get("mediaType") or "") if isinstance(config, dict) else ""


def descriptor_of(raw: bytes, media_type: str, digest: str) -> dict[str, Any]:
    """The fallback-index entry for a referrer manifest: its descriptor, `artifactType`
    and `annotations` (as the image spec asks of referrers lists)."""
    doc = jsontext.loads(raw)
    entry: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": len(raw)}
    if kind := artifact_type_of(raw):
        entry["artifactType"] = kind
    if isinstance(doc, dict) and isinstance(annotations := doc.get("annotations"), dict):
        entry["annotations"] = annotations
    return entry


def index_bytes(entries: Sequence[Referrer]) -> bytes:
    """An OCI index listing `entries`, compact and with sorted keys."""
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [entry.descriptor for entry in entries],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def missing(wanted: Sequence[Referrer], present: Sequence[Referrer]) -> list[Referrer]:
    """The wanted entries that `present` does not list (by digest)."""
    have = {entry.digest for entry in present}
    return [entry for entry in wanted if entry.digest not in have]


def merged_index(
    current: Sequence[Referrer] | None,
    wanted: Sequence[Referrer],
    *,
    source_raw: bytes | None = None,
) -> bytes | None:
    """The fallback index the target should hold, or None when it already lists `wanted`.

    Nothing listed is ever dropped: entries another writer added stay, in their order, and
    the missing ones follow in the source's order. When the target lists nothing the source
    does not, and `source_raw` (the source's own fallback index, every entry wanted) is
    given, it is used byte for byte, so both fallback tags share one digest and later runs
    can compare them with a HEAD each.
    """
    present = list(current or ())
    added = missing(wanted, present)
    if not added:
        return None
    wanted_digests = {entry.digest for entry in wanted}
    if source_raw is not None and all(entry.digest in wanted_digests for entry in present):
        return source_raw
    return index_bytes([*present, *added])
