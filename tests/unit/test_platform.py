from __future__ import annotations

import json

import pytest

from dregsy import mediatypes
from dregsy.digest import digest_of
from dregsy.errors import DregsyError
from dregsy.manifest import Manifest, Platform, parse_manifest
from dregsy.platform import (
    compatible,
    is_exact,
    matches,
    normalize,
    parse_platform,
    pick_platform,
    subset_index,
)

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
    # containerd's normalisation: arm64 is arm64/v8, whichever side writes the variant
    assert matches(Platform("linux", "arm64", "v8"), Platform("linux", "arm64"))
    assert matches(Platform("linux", "arm64"), Platform("linux", "arm64", "v8"))
    assert matches(Platform("linux", "aarch64"), Platform("linux", "arm64", "v8"))
    assert matches(Platform("linux", "x86_64"), Platform("linux", "amd64"))
    # arm without a variant is v7
    assert matches(Platform("linux", "arm"), Platform("linux", "arm", "v7"))
    assert matches(Platform("linux", "arm", "v7"), Platform("linux", "arm"))
    assert not matches(Platform("linux", "arm", "v6"), Platform("linux", "arm"))
    assert not matches(Platform("linux", "arm", "v7"), Platform("linux", "arm64"))
    assert not matches(None, Platform("linux", "amd64"))


@pytest.mark.parametrize(
    ("given", "normal"),
    [
        (Platform("Linux", "ARM64", "v8"), Platform("linux", "arm64")),
        (Platform("linux", "arm64", "8"), Platform("linux", "arm64")),
        (Platform("linux", "arm64", "v9.0"), Platform("linux", "arm64", "v9")),
        (Platform("linux", "arm"), Platform("linux", "arm", "v7")),
        (Platform("linux", "arm", "6"), Platform("linux", "arm", "v6")),
        (Platform("linux", "armhf"), Platform("linux", "arm", "v7")),
        (Platform("linux", "armel"), Platform("linux", "arm", "v6")),
        (Platform("linux", "i386"), Platform("linux", "386")),
        (Platform("linux", "amd64", "v1"), Platform("linux", "amd64")),
        (Platform("linux", "ppc64le"), Platform("linux", "ppc64le")),
    ],
)
def test_normalize(given: Platform, normal: Platform) -> None:
    assert normalize(given) == normal


def _arm_index(*entries: tuple[str, dict[str, str]]) -> Manifest:
    doc = {
        "schemaVersion": 2,
        "mediaType": mediatypes.OCI_INDEX,
        "manifests": [
            {"mediaType": mediatypes.OCI_MANIFEST, "digest": d, "size": 1, "platform": p}
            for d, p in entries
        ],
    }
    raw = json.dumps(doc).encode()
    return parse_manifest(raw, digest=digest_of(raw), content_type=None)


V5, V6, V7 = ("sha256:" + c * 64 for c in "567")


def test_arm_without_variant_picks_v7_not_the_first_arm_entry() -> None:
    index = _arm_index(
        (AMD, {"os": "linux", "architecture": "amd64"}),
        (V5, {"os": "linux", "architecture": "arm", "variant": "v5"}),
        (V6, {"os": "linux", "architecture": "arm", "variant": "v6"}),
        (V7, {"os": "linux", "architecture": "arm", "variant": "v7"}),
    )
    wanted = Platform("linux", "arm")
    assert pick_platform(index, wanted).digest == V7
    assert is_exact(pick_platform(index, wanted), wanted)
    assert pick_platform(index, Platform("linux", "arm", "v6")).digest == V6


def test_arm64_v8_matches_an_entry_without_variant() -> None:
    index = _arm_index(
        (AMD, {"os": "linux", "architecture": "amd64"}),
        (ARM, {"os": "linux", "architecture": "arm64"}),
    )
    assert pick_platform(index, Platform("linux", "arm64", "v8")).digest == ARM


def test_an_older_variant_stands_in_but_says_so() -> None:
    index = _arm_index(
        (V5, {"os": "linux", "architecture": "arm", "variant": "v5"}),
        (V6, {"os": "linux", "architecture": "arm", "variant": "v6"}),
    )
    wanted = Platform("linux", "arm", "v7")
    picked = pick_platform(index, wanted)
    assert picked.digest == V6  # the newest variant v7 can run
    assert not is_exact(picked, wanted)
    with pytest.raises(DregsyError, match="no image for linux/arm/v5"):
        pick_platform(
            _arm_index((V6, {"os": "linux", "architecture": "arm", "variant": "v6"})),
            Platform("linux", "arm", "v5"),
        )


def test_never_another_architecture() -> None:
    index = _arm_index((V7, {"os": "linux", "architecture": "arm", "variant": "v7"}))
    with pytest.raises(DregsyError, match=r"no image for linux/arm64 \(it has: linux/arm/v7\)"):
        pick_platform(index, Platform("linux", "arm64"))


def test_compatible_order() -> None:
    assert compatible(Platform("linux", "arm")) == [
        Platform("linux", "arm", "v7"),
        Platform("linux", "arm", "v6"),
        Platform("linux", "arm", "v5"),
    ]
    assert compatible(Platform("linux", "amd64", "v3")) == [
        Platform("linux", "amd64", "v3"),
        Platform("linux", "amd64", "v2"),
        Platform("linux", "amd64"),
    ]
    assert compatible(Platform("linux", "arm64", "v8")) == [Platform("linux", "arm64")]


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
