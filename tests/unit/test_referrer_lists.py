"""The pure referrer-list rules: tag names, parsing, and the fallback index merge."""

from __future__ import annotations

import json

import pytest

from dregsy.errors import UnsupportedManifestError
from dregsy.referrers import (
    Referrer,
    artifact_type_of,
    cosign_tags,
    descriptor_of,
    fallback_tag,
    is_referrer_tag,
    merged_index,
    parse_referrers,
)

HEX = "ab" * 32
DIGEST = f"sha256:{HEX}"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _entry(n: int, kind: str = "application/spdx+json") -> Referrer:
    digest = f"sha256:{n:064x}"
    descriptor = {"mediaType": MANIFEST, "digest": digest, "size": n, "artifactType": kind}
    return Referrer(digest, MANIFEST, kind, descriptor)


def _digests(raw: bytes | None) -> list[str]:
    assert raw is not None
    return [e["digest"] for e in json.loads(raw)["manifests"]]


def test_tag_names() -> None:
    assert fallback_tag(DIGEST) == f"sha256-{HEX}"
    assert cosign_tags(DIGEST) == tuple(f"sha256-{HEX}.{s}" for s in ("sig", "att", "sbom"))
    assert is_referrer_tag(f"sha256-{HEX}")
    assert is_referrer_tag(f"sha256-{HEX}.att")
    assert not is_referrer_tag(f"sha256-{HEX}.other")
    assert not is_referrer_tag("sha256-abc")
    assert not is_referrer_tag("v1.2.3")


def test_parse_keeps_descriptors_and_drops_repeats() -> None:
    doc = {"manifests": [_entry(1).descriptor, _entry(2, "x/y").descriptor, _entry(1).descriptor]}
    found = parse_referrers(json.dumps(doc).encode(), "list")
    assert [(e.digest, e.artifact_type) for e in found] == [
        (_entry(1).digest, "application/spdx+json"),
        (_entry(2).digest, "x/y"),
    ]
    assert found[0].descriptor == _entry(1).descriptor


@pytest.mark.parametrize(
    "raw", [b"not json", b"[]", b'{"manifests": [1]}', b'{"manifests": [{"digest": "x"}]}']
)
def test_parse_refuses_what_is_not_a_referrers_index(raw: bytes) -> None:
    with pytest.raises(UnsupportedManifestError):
        parse_referrers(raw, "referrers of x")


def test_artifact_type_and_descriptor_of_a_referrer() -> None:
    doc = {
        "config": {"mediaType": "application/vnd.oci.empty.v1+json"},
        "artifactType": "application/vnd.cncf.notary.signature",
        "annotations": {"a": "b"},
    }
    raw = json.dumps(doc).encode()
    assert artifact_type_of(raw) == "application/vnd.cncf.notary.signature"
    del doc["artifactType"]
    assert artifact_type_of(json.dumps(doc).encode()) == "application/vnd.oci.empty.v1+json"
    assert descriptor_of(raw, MANIFEST, DIGEST) == {
        "mediaType": MANIFEST,
        "digest": DIGEST,
        "size": len(raw),
        "artifactType": "application/vnd.cncf.notary.signature",
        "annotations": {"a": "b"},
    }


def test_merge_keeps_what_others_listed_and_adds_the_missing() -> None:
    theirs, a, b = _entry(9), _entry(1), _entry(2)
    assert _digests(merged_index([theirs, a], [a, b])) == [theirs.digest, a.digest, b.digest]
    assert merged_index([b, theirs, a], [a, b]) is None  # nothing missing: no push
    assert _digests(merged_index(None, [a, b])) == [a.digest, b.digest]


def test_merge_uses_the_source_bytes_when_the_target_lists_nothing_else() -> None:
    a, b = _entry(1), _entry(2)
    source_raw = b'{"manifests":[...as the source wrote it...]}'
    assert merged_index(None, [a, b], source_raw=source_raw) == source_raw
    assert merged_index([a], [a, b], source_raw=source_raw) == source_raw
    # an entry only at the target: a merged index of our own
    assert merged_index([_entry(9)], [a], source_raw=source_raw) != source_raw
