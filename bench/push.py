"""Putting images into a registry fast, with plain HTTP: blobs by monolithic upload."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

BlobSource = Callable[[], AsyncIterator[bytes]]


@dataclass(frozen=True)
class Blob:
    """A blob to upload: its digest, size and a way to produce its bytes (again)."""

    digest: str
    size: int
    media_type: str
    chunks: BlobSource

    @classmethod
    def of(cls, data: bytes, media_type: str) -> Blob:
        async def chunks() -> AsyncIterator[bytes]:
            yield data

        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        return cls(digest, len(data), media_type, chunks)

    def descriptor(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def image_manifest(config: Blob, layers: list[Blob]) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def config_blob(label: str, diff_ids: list[str]) -> Blob:
    doc = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Labels": {"bench": label}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2024-01-01T00:00:00Z"} for _ in diff_ids],
    }
    return Blob.of(json.dumps(doc, sort_keys=True).encode(), OCI_CONFIG)


class Pusher:
    """Uploads blobs (each once) and manifests to one plain-HTTP registry."""

    def __init__(self, base_url: str, parallel: int = 8) -> None:
        self._base = base_url
        self._client = httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=parallel))
        self._slots = asyncio.Semaphore(parallel)
        self._done: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def __aenter__(self) -> Pusher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def blob(self, repo: str, blob: Blob) -> None:
        key = (repo, blob.digest)
        if key not in self._done:
            self._done[key] = asyncio.create_task(self._upload(repo, blob))
        await self._done[key]

    async def _upload(self, repo: str, blob: Blob) -> None:
        async with self._slots:
            head = await self._client.head(f"{self._base}/v2/{repo}/blobs/{blob.digest}")
            if head.status_code == 200:
                return
            start = await self._client.post(f"{self._base}/v2/{repo}/blobs/uploads/")
            start.raise_for_status()
            url = httpx.URL(self._base).join(start.headers["location"])
            url = url.copy_merge_params({"digest": blob.digest})
            headers = {"Content-Length": str(blob.size), "Content-Type": "application/octet-stream"}
            done = await self._client.put(url, content=blob.chunks(), headers=headers)
            done.raise_for_status()

    async def manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> None:
        async with self._slots:
            response = await self._client.put(
                f"{self._base}/v2/{repo}/manifests/{ref}",
                content=raw,
                headers={"Content-Type": media_type},
            )
            response.raise_for_status()

    async def image(self, repo: str, tag: str, config: Blob, layers: list[Blob]) -> str:
        await asyncio.gather(*(self.blob(repo, b) for b in [config, *layers]))
        raw = image_manifest(config, layers)
        await self.manifest(repo, tag, raw, OCI_MANIFEST)
        return "sha256:" + hashlib.sha256(raw).hexdigest()
