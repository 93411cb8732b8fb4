"""The catalog: `/v2/_catalog`, page by page (`n`, `Link`), up to a number of repositories.

Token registries grant it with the scope `registry:catalog:*`.
"""

from __future__ import annotations

import json

import httpx

from dregsy.errors import RegistryError
from dregsy.registry.client import RegistryClient
from dregsy.registry.errors import raise_for_status
from dregsy.registry.tags import MAX_PAGES, next_link

CATALOG_SCOPE = "registry:catalog:*"
PAGE_SIZE = 1000  # ECR and distribution refuse more


async def list_repositories(
    client: RegistryClient, *, limit: int | None, page_size: int = PAGE_SIZE
) -> list[str]:
    """Repository paths in the registry's order, at most `limit` (None: all)."""
    n = min(page_size, limit) if limit is not None else page_size
    url: str | None = f"/v2/_catalog?n={max(n, 1)}"
    repositories: dict[str, None] = {}
    base_host = httpx.URL(await client.base_url()).netloc
    for _ in range(MAX_PAGES):
        if url is None or (limit is not None and len(repositories) >= limit):
            break
        async with client.stream("GET", url, scopes=(CATALOG_SCOPE,)) as response:
            await raise_for_status(response)
            body = await response.aread()
            link = next_link(response)
        try:
            page = json.loads(body).get("repositories") or []
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
            raise RegistryError(f"{client.registry}: catalog is not valid JSON") from exc
        repositories.update((str(name), None) for name in page)
        if link is not None and httpx.URL(link).netloc != base_host:
            raise RegistryError(f"{client.registry}: catalog pagination leads to another host")
        url = link
    else:
        raise RegistryError(f"{client.registry}: catalog has more than {MAX_PAGES} pages")
    names = list(repositories)
    return names if limit is None else names[:limit]
