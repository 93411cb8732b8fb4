"""The ideal copy: every blob and manifest moved by plain parallel GET -> PUT, no checks.

No auth, no HEADs, no digest verification, no retries: the practical limit of the machine
and the registries. `python -m bench.ideal SRC DST PARALLEL REPO:DEST_REPO...`
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator

import httpx

ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


async def copy_all(src: str, dst: str, parallel: int, pairs: list[tuple[str, str]]) -> None:
    limits = httpx.Limits(max_connections=parallel * 2)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        slots = asyncio.Semaphore(parallel)
        blobs: dict[tuple[str, str], asyncio.Task[None]] = {}

        async def blob(repo: str, to: str, digest: str, size: int) -> None:
            async with slots:
                start = await client.post(f"{dst}/v2/{to}/blobs/uploads/")
                url = httpx.URL(dst).join(start.headers["location"])
                url = url.copy_merge_params({"digest": digest})
                async with client.stream("GET", f"{src}/v2/{repo}/blobs/{digest}") as got:

                    async def body() -> AsyncIterator[bytes]:
                        async for chunk in got.aiter_raw(1 << 20):
                            yield chunk

                    put = await client.put(
                        url, content=body(), headers={"Content-Length": str(size)}
                    )
                    put.raise_for_status()

        async def manifest(repo: str, to: str, ref: str) -> None:
            async with slots:
                got = await client.get(
                    f"{src}/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT}
                )
            got.raise_for_status()
            doc = json.loads(got.content)
            children = [m["digest"] for m in doc.get("manifests", [])]
            await asyncio.gather(*(manifest(repo, to, c) for c in children))
            layers = [doc["config"], *doc["layers"]] if "config" in doc else []
            jobs = []
            for d in layers:
                key = (to, d["digest"])
                if key not in blobs:
                    blobs[key] = asyncio.create_task(blob(repo, to, d["digest"], d["size"]))
                jobs.append(blobs[key])
            await asyncio.gather(*jobs)
            async with slots:
                put = await client.put(
                    f"{dst}/v2/{to}/manifests/{ref}",
                    content=got.content,
                    headers={"Content-Type": got.headers["content-type"]},
                )
            put.raise_for_status()

        async def repository(repo: str, to: str) -> None:
            tags = (await client.get(f"{src}/v2/{repo}/tags/list")).json()["tags"]
            await asyncio.gather(*(manifest(repo, to, t) for t in tags))

        await asyncio.gather(*(repository(r, t) for r, t in pairs))


def main(argv: list[str]) -> int:
    src, dst, parallel, *rest = argv
    pairs = [tuple(p.split(":", 1)) for p in rest]
    asyncio.run(copy_all(src, dst, int(parallel), pairs))  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
