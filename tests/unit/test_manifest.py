from __future__ import annotations

import json

import pytest

from dregsy import mediatypes
from dregsy.copy.plan import BlobAction, TagAction, blob_action, decide_tag
from dregsy.digest import Verifier, digest_of
from dregsy.errors import DigestMismatchError, UnsupportedManifestError
from dregsy.manifest import parse_manifest

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


def _raw(doc: object) -> bytes:
    return json.dumps(doc).encode()


def test_image_manifest_blobs() -> None:
    raw = _raw(
        {
            "schemaVersion": 2,
            "mediaType": mediatypes.OCI_MANIFEST,
            "config": {"mediaType": "c", "digest": D1, "size": 10},
            "layers": [
                {"mediaType": "l", "digest": D2, "size": 20},
                {
                    "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                    "digest": "sha256:" + "3" * 64,
                    "size": 30,
                    "urls": ["https://example.com/layer"],
                },
            ],
        }
    )
    manifest = parse_manifest(raw, digest=digest_of(raw), content_type=None)
    assert not manifest.is_index
    assert [d.digest for d in manifest.blobs] == [D1, D2]  # the foreign layer is not copied
    assert manifest.raw == raw


def test_index_from_content_type() -> None:
    raw = _raw(
        {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": mediatypes.DOCKER_MANIFEST,
                    "digest": D1,
                    "size": 5,
                    "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
                }
            ],
        }
    )
    index = parse_manifest(raw, digest=D2, content_type=mediatypes.DOCKER_MANIFEST_LIST)
    assert index.is_index
    assert str(index.manifests[0].platform) == "linux/arm64/v8"


@pytest.mark.parametrize(
    ("doc", "content_type", "message"),
    [
        ({"schemaVersion": 1, "fsLayers": []}, None, "schema 1"),
        ({"schemaVersion": 2}, mediatypes.DOCKER_SCHEMA1_SIGNED, "schema 1"),
        ({"schemaVersion": 2, "mediaType": "application/x-unknown"}, None, "unsupported"),
        ({"schemaVersion": 2, "mediaType": mediatypes.OCI_MANIFEST}, None, "malformed"),
        ([1, 2], None, "not a JSON object"),
    ],
)
def test_unsupported_manifests(doc: object, content_type: str | None, message: str) -> None:
    with pytest.raises(UnsupportedManifestError, match=message):
        parse_manifest(_raw(doc), digest=D1, content_type=content_type)


def test_verifier_checks_size_and_digest() -> None:
    data = b"hello world"
    ok = Verifier(digest_of(data), len(data), "blob")
    ok.update(data[:5])
    ok.update(data[5:])
    ok.check()
    short = Verifier(digest_of(data), len(data), "blob")
    short.update(data[:4])
    with pytest.raises(DigestMismatchError, match="got 4 bytes"):
        short.check()
    wrong = Verifier(digest_of(b"other"), None, "blob")
    wrong.update(data)
    with pytest.raises(DigestMismatchError, match="content has digest"):
        wrong.check()
    too_long = Verifier(digest_of(data), 3, "blob")
    with pytest.raises(DigestMismatchError, match="more than"):
        too_long.update(data)


def test_plan_decisions() -> None:
    assert decide_tag(D1, D1).action is TagAction.SKIP
    assert decide_tag(D1, None).action is TagAction.COPY
    assert decide_tag(D1, D2).action is TagAction.COPY
    assert blob_action(exists=True, same_registry=True) is BlobAction.SKIP
    assert blob_action(exists=False, same_registry=True) is BlobAction.MOUNT
    assert blob_action(exists=False, same_registry=False) is BlobAction.STREAM
