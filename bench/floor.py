"""The floor of a no-op run: a bare aiohttp loop making exactly the HEADs a no-op makes.

Two per tag: the source manifest and the target manifest, one after the other, with
dregsy's concurrency (`parallel` tags in flight, `connections` per registry, a session
per registry as dregsy has one per role). No tag lists, no auth, no digest checks, no
retries: the least any client could do on this machine for the same answer.

With `--lists` (the `floor-lists` row) it first lists each source repository's tags, one
GET each, then HEADs the tags each list gives: what any client must also ask when a mapping
names no tags (dregsy's bench config, and skopeo sync's), with nothing else added.

`python -m bench.floor [--lists] SRC DST PARALLEL CONNECTIONS TAGS REPO:DEST_REPO...`
(TAGS is a comma-separated list, the same in every repository, as the workloads seed
them; with `--lists` it is not used).
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp

ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


async def heads(
    src: str,
    dst: str,
    parallel: int,
    connections: int,
    pairs: list[tuple[str, str]],
    tags: list[str] | None,
) -> int:
    """HEAD every tag at both ends (`tags`, or each repository's own list when None);
    returns how many were not 200 (0 on a real no-op)."""
    headers = {"Accept": ACCEPT}
    slots = asyncio.Semaphore(parallel)
    missing = 0

    def session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections))

    async with session() as pull, session() as push:

        async def tag(repo: str, to: str, name: str) -> None:
            nonlocal missing
            async with slots:
                async with pull.head(f"{src}/v2/{repo}/manifests/{name}", headers=headers) as a:
                    digest = a.headers.get("Docker-Content-Digest")
                async with push.head(f"{dst}/v2/{to}/manifests/{name}", headers=headers) as b:
                    same = b.headers.get("Docker-Content-Digest") == digest
                    if a.status != 200 or b.status != 200 or not same:
                        missing += 1

        async def listed(repo: str, to: str) -> None:
            async with slots, pull.get(f"{src}/v2/{repo}/tags/list?n=1000") as listing:
                names = json.loads(await listing.read())["tags"]
            await asyncio.gather(*(tag(repo, to, name) for name in names))

        if tags is None:
            await asyncio.gather(*(listed(r, t) for r, t in pairs))
        else:
            await asyncio.gather(*(tag(r, t, name) for r, t in pairs for name in tags))
    return missing


def main(argv: list[str]) -> int:
    lists = argv[:1] == ["--lists"]
    src, dst, parallel, connections, tags, *rest = argv[1:] if lists else argv
    pairs = [(a, b) for a, _, b in (p.partition(":") for p in rest)]
    names = None if lists else tags.split(",")
    missing = asyncio.run(heads(src, dst, int(parallel), int(connections), pairs, names))
    if missing:
        print(f"floor: {missing} tags differ or are missing", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
