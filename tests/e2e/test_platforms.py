"""Platform selection with the native relay: whole index, one platform, a subset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import skopeo
from tests.support.dregsy_cli import run
from tests.support.registry import RegistryServer
from tests.support.seed import SeededImages

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]


def test_whole_index_one_platform_and_a_subset(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
tasks:
  - name: platforms
    source: {{registry: {seeded.registry.host}}}
    target: {{registry: {target_registry.host}}}
    mappings:
      - {{from: demo/multi, to: whole/multi}}
      - {{from: demo/multi, to: all/multi, platform: all}}
      - {{from: demo/multi, to: one/multi, platform: linux/arm64}}
      - {{from: demo/multi, to: subset/multi, platforms: [linux/arm64]}}
      - {{from: demo/multi, to: missing/multi, platform: linux/s390x}}
"""
    )
    index = seeded.index("demo/multi:m1")
    arm64 = index.image_for("linux", "arm64")
    first = run(config)
    assert first.returncode == 1  # the s390x mapping fails, alone
    assert "no image for linux/s390x (it has: linux/amd64, linux/arm64)" in first.stderr
    assert "4 copied, 0 skipped, 1 failed" in first.stderr
    target = target_registry.host
    assert skopeo.digest_of(f"{target}/whole/multi:m1") == index.digest
    assert skopeo.digest_of(f"{target}/all/multi:m1") == index.digest
    assert skopeo.digest_of(f"{target}/one/multi:m1") == arm64.digest
    assert skopeo.inspect_raw(f"{target}/one/multi:m1") == arm64.manifest_bytes

    subset_raw = skopeo.inspect_raw(f"{target}/subset/multi:m1")
    subset = json.loads(subset_raw)
    assert [m["digest"] for m in subset["manifests"]] == [arm64.digest]
    assert subset["mediaType"] == index.media_type
    assert "a new index of platforms linux/arm64" in first.stderr
    # the index's entry is there to pull, with its blobs
    assert skopeo.digest_of(f"{target}/subset/multi@{arm64.digest}") == arm64.digest

    second = run(config)
    assert "0 copied, 4 skipped, 1 failed" in second.stderr
    assert skopeo.inspect_raw(f"{target}/subset/multi:m1") == subset_raw
