from __future__ import annotations

import json

import pytest

from dregsy import mediatypes
from dregsy.digest import digest_of
from dregsy.errors import DregsyError
from dregsy.manifest import Platform, parse_manifest
from dregsy.platform import matches, parse_platform, pick_platform, subset_index

AMD = "sha256:" + "a" * 64
ARM = "sha256:" + "b" * 64
ARM7 = "sha256:" + "c" * 64


def _index() -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [
            {
                "mediaType": mediatypes.OCI_MANIFEST,
                "digest": d,
                "size": 100,
                "platform": p,
            }
            for d, p in (
                (AMD, {"os": "linux", "architecture": "amd64"}),
                (ARM, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
                (ARM7, {"os": "linux", "architecture": "arm", "variant": "v7"}),
            )
        ],
        "annotations": {"org.example": "kept"},
    }
    return json.dumps(doc, indent=2).encode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
    ],
)
def test_parse_platform(text: str, expected: Platform) -> None:
    assert parse_platform(text) == expected


@pytest.mark.parametrize("text", ["linux", "linux/", "a/b/c/d", "/amd64"])
def test_parse_platform_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid platform"):
        parse_platform(text)


def test_matching_rules() -> None:
    assert matches(Platform("linux", "arm64", "v8"), Platform("linux", "arm64"))
    assert not matches(Platform("linux", "arm64"), Platform("linux", "arm64", "v8"))
    assert not matches(None, Platform("linux", "amd64"))


def test_pick_platform() -> None:
    index = parse_manifest(_index(), digest=digest_of(_index()), content_type=None)
    assert pick_platform(index, Platform("linux", "arm", "v7")).digest == ARM7
    with pytest.raises(DregsyError, match=r"no image for windows/amd64 \(it has: linux/amd64"):
        pick_platform(index, Platform("windows", "amd64"))


def test_subset_index_is_stable_and_keeps_the_rest() -> None:
    index = parse_manifest(_index(), digest=digest_of(_index()), content_type=None)
    wanted = [Platform("linux", "arm64"), Platform("linux", "amd64")]
    subset = subset_index(index, wanted)
    assert [m.digest for m in subset.manifests] == [AMD, ARM]  # the source's order
    assert subset.digest == digest_of(subset.raw)
    assert subset.digest != index.digest
    assert subset.media_type == mediatypes.OCI_INDEX
    assert json.loads(subset.raw)["annotations"] == {"org.example": "kept"}
    assert subset_index(index, wanted).raw == subset.raw  # same input, same digest
