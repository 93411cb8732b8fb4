"""Many tiny repositories, fast, with raw HTTP: for tests that need a large source.

One image's blobs (a config and a one-file layer) are uploaded once, mounted into every
other repository (one request each), and each tag gets its own manifest: the same blobs
with an annotation naming the tag, so every tag has its own digest. Reading back goes
through raw HTTP too (`target_state`): the catalog, each repository's tags, and the
SHA-256 of each manifest's bytes, computed here, not by the registry or by dregsy.
"""

from __future__ import annotations

import json

import httpx

from tests.support.http_check import MANIFEST_ACCEPT
from tests.support.oci import (
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    canonical_json,
    layer_blob,
    sha256_digest,
)
from tests.support.registry import SUPPORT_AGENT_PREFIX, RegistryServer

AGENT = {"User-Agent": f"{SUPPORT_AGENT_PREFIX}bulk"}  # left out of the access log reports


def _descriptor(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data)}


def _upload(client: httpx.Client, repo: str, data: bytes) -> None:
    start = client.post(f"/v2/{repo}/blobs/uploads/")
    start.raise_for_status()
    location = httpx.URL(start.headers["Location"])
    done = client.put(
        location,
        params={**dict(location.params), "digest": sha256_digest(data)},
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    done.raise_for_status()


def seed_repositories(
    registry: RegistryServer, repositories: list[str], tags: list[str]
) -> dict[str, str]:
    """Push every tag to every repository; returns the digest of each ``"repo:tag"``."""
    layer, diff_id = layer_blob(b"one tiny layer shared by every tag\n")
    config = canonical_json(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
    )
    digests: dict[str, str] = {}
    with httpx.Client(base_url=registry.url, headers=AGENT, timeout=30) as client:
        first = repositories[0]
        for blob in (config, layer):
            _upload(client, first, blob)
        for repo in repositories[1:]:
            for blob in (config, layer):
                mounted = client.post(
                    f"/v2/{repo}/blobs/uploads/",
                    params={"mount": sha256_digest(blob), "from": first},
                )
                assert mounted.status_code == 201, mounted.text
        for repo in repositories:
            for tag in tags:
                manifest = canonical_json(
                    {
                        "schemaVersion": 2,
                        "mediaType": OCI_MANIFEST,
                        "config": _descriptor(OCI_CONFIG, config),
                        "layers": [_descriptor(OCI_LAYER_GZIP, layer)],
                        "annotations": {"org.dregsy.test.tag": f"{repo}:{tag}"},
                    }
                )
                put = client.put(
                    f"/v2/{repo}/manifests/{tag}",
                    content=manifest,
                    headers={"Content-Type": OCI_MANIFEST},
                )
                put.raise_for_status()
                digests[f"{repo}:{tag}"] = sha256_digest(manifest)
    return digests


def target_state(registry: RegistryServer) -> dict[str, str]:
    """Every ``"repo:tag"`` in the registry with the SHA-256 of its manifest's bytes."""
    state: dict[str, str] = {}
    with httpx.Client(base_url=registry.url, headers=AGENT, timeout=30) as client:
        catalog = client.get("/v2/_catalog", params={"n": 1000})
        catalog.raise_for_status()
        for repo in catalog.json()["repositories"]:
            listed = client.get(f"/v2/{repo}/tags/list")
            listed.raise_for_status()
            for tag in json.loads(listed.content).get("tags") or []:
                got = client.get(f"/v2/{repo}/manifests/{tag}", headers={"Accept": MANIFEST_ACCEPT})
                got.raise_for_status()
                state[f"{repo}:{tag}"] = sha256_digest(got.content)
    return state
