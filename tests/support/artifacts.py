"""Signatures, SBOMs and attestations as the tools make them, built byte for byte.

No cosign, notation or syft can be installed here, so their artifacts are written to the
OCI image spec 1.1 with the media types those tools use: an image manifest whose
`artifactType` names the kind, whose config is the empty descriptor (`{}`), whose layers
carry the payload, and whose `subject` names the image it is about. cosign's older
convention (a tag `sha256-<hex>.sig` holding a manifest without `subject`) is here too.

Everything is pushed with plain HTTP (`httpx`), not with dregsy's code: blobs by a
monolithic upload, manifests by digest, fallback indexes (the referrers tag schema) by tag.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.oci import OCI_INDEX, OCI_MANIFEST, canonical_json, sha256_digest

EMPTY_JSON = "application/vnd.oci.empty.v1+json"
COSIGN_SIG = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
NOTATION_SIG = "application/vnd.cncf.notary.signature"
SPDX_JSON = "application/spdx+json"
IN_TOTO = "application/vnd.in-toto+json"
ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST))


@dataclass(frozen=True)
class Artifact:
    """An artifact manifest, its blobs, and the entry it gets in a referrers list."""

    manifest: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)
    artifact_type: str = ""
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def descriptor(self) -> dict[str, Any]:
        """Its entry in a referrers index: descriptor, artifactType, annotations."""
        entry: dict[str, Any] = {
            "mediaType": OCI_MANIFEST,
            "digest": self.digest,
            "size": len(self.manifest),
        }
        if self.artifact_type:
            entry["artifactType"] = self.artifact_type
        if self.annotations:
            entry["annotations"] = self.annotations
        return entry


def _blob_descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data), **extra}


def subject_of(digest: str, raw: bytes, media_type: str = OCI_MANIFEST) -> dict[str, Any]:
    """The `subject` descriptor of a manifest or index."""
    return {"mediaType": media_type, "digest": digest, "size": len(raw)}


def artifact(
    artifact_type: str,
    layer_type: str,
    payload: bytes,
    *,
    subject: dict[str, Any] | None,
    annotations: dict[str, str] | None = None,
    layer_annotations: dict[str, str] | None = None,
) -> Artifact:
    """An OCI 1.1 artifact: empty config, one payload layer, `subject` (if any)."""
    empty = b"{}"
    created = {"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}
    annotations = {**created, **(annotations or {})}
    layer = _blob_descriptor(layer_type, payload)
    if layer_annotations:
        layer["annotations"] = layer_annotations
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": _blob_descriptor(EMPTY_JSON, empty),
        "layers": [layer],
        "annotations": annotations,
    }
    if subject is not None:
        doc["subject"] = subject
    blobs = {sha256_digest(empty): empty, sha256_digest(payload): payload}
    return Artifact(canonical_json(doc), blobs, artifact_type, annotations)


def cosign_signature(subject: dict[str, Any], *, identity: str) -> Artifact:
    """A cosign signature with `subject` (cosign 2.x's OCI 1.1 mode)."""
    payload = canonical_json(
        {
            "critical": {
                "identity": {"docker-reference": identity},
                "image": {"docker-manifest-digest": subject["digest"]},
                "type": "cosign container image signature",
            },
            "optional": None,
        }
    )
    signature = base64.b64encode(os.urandom(64)).decode()
    return artifact(
        COSIGN_SIG,
        COSIGN_SIMPLESIGNING,
        payload,
        subject=subject,
        layer_annotations={"dev.cosignproject.cosign/signature": signature},
    )


def cosign_tag_signature(digest: str, *, identity: str) -> Artifact:
    """cosign's older form: a manifest without `subject`, pushed as `sha256-<hex>.sig`."""
    sig = cosign_signature(
        {"digest": digest, "mediaType": OCI_MANIFEST, "size": 0}, identity=identity
    )
    doc = json.loads(sig.manifest)
    del doc["subject"], doc["artifactType"]
    doc["config"] = _blob_descriptor("application/vnd.oci.image.config.v1+json", b"{}")
    blobs = dict(sig.blobs)
    return Artifact(canonical_json(doc), blobs, "", {})


def notation_signature(subject: dict[str, Any]) -> Artifact:
    """A notation (Notary Project) signature envelope (JWS)."""
    envelope = canonical_json(
        {"payload": base64.b64encode(os.urandom(48)).decode(), "signature": "x"}
    )
    return artifact(
        NOTATION_SIG,
        "application/jose+json",
        envelope,
        subject=subject,
        annotations={
            "io.cncf.notary.x509chain.thumbprint#S256": '["' + os.urandom(32).hex() + '"]'
        },
    )


def spdx_sbom(subject: dict[str, Any], name: str) -> Artifact:
    """An SPDX 2.3 SBOM as syft attaches it."""
    document = canonical_json(
        {
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": name,
            "documentNamespace": f"https://anchore.com/syft/image/{name}-{os.urandom(8).hex()}",
            "packages": [],
        }
    )
    return artifact(SPDX_JSON, SPDX_JSON, document, subject=subject)


def referrers_index(entries: list[Artifact]) -> bytes:
    """A fallback tag's index (referrers tag schema) listing `entries`."""
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [entry.descriptor for entry in entries],
    }
    return canonical_json(doc)


def fallback_tag(digest: str) -> str:
    return digest.replace(":", "-", 1)


# -- plain HTTP ------------------------------------------------------------------------------


class RawRegistry:
    """Pushes and reads with plain HTTP against one registry (no auth)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10.0)

    def push_blob(self, repo: str, data: bytes) -> None:
        with self._client() as client:
            started = client.post(f"/v2/{repo}/blobs/uploads/")
            started.raise_for_status()
            location = started.headers["Location"]
            # the Location keeps its own query (`_state`): add the digest to it
            url = httpx.URL(location).copy_merge_params({"digest": sha256_digest(data)})
            done = client.put(url, content=data)
            done.raise_for_status()

    def push_manifest(
        self, repo: str, ref: str, raw: bytes, media_type: str = OCI_MANIFEST
    ) -> httpx.Headers:
        with self._client() as client:
            response = client.put(
                f"/v2/{repo}/manifests/{ref}", content=raw, headers={"Content-Type": media_type}
            )
            response.raise_for_status()
            return response.headers

    def push_artifact(self, repo: str, item: Artifact, tag: str | None = None) -> None:
        for data in item.blobs.values():
            self.push_blob(repo, data)
        self.push_manifest(repo, tag or item.digest, item.manifest)

    def push_index(self, repo: str, tag: str, raw: bytes) -> None:
        self.push_manifest(repo, tag, raw, OCI_INDEX)

    def get(self, repo: str, ref: str) -> bytes | None:
        with self._client() as client:
            response = client.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT})
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.content

    def listed(self, repo: str, subject: str) -> list[str]:
        """The digests the fallback index of `subject` lists, in order ([] without one)."""
        raw = self.get(repo, fallback_tag(subject))
        return [] if raw is None else [e["digest"] for e in json.loads(raw)["manifests"]]
