"""The catalog: `/v2/_catalog`, page by page (`n`, `Link`), up to a number of repositories.

Token registries grant it with the scope `registry:catalog:*`.
"""

from __future__ import annotations

from dregsy.registry.client import RegistryClient
from dregsy.registry.pages import pages

CATALOG_SCOPE = "registry:catalog:*"
PAGE_SIZE = 1000  # ECR and distribution refuse more


async def list_repositories(
    client: RegistryClient, *, limit: int | None, page_size: int = PAGE_SIZE
) -> list[str]:
    """Repository paths in the registry's order, at most `limit` (None: all)."""
    n = min(page_size, limit) if limit is not None else page_size
    url = f"/v2/_catalog?n={max(n, 1)}"
    repositories: dict[str, None] = {}
    what = f"{client.registry}: catalog"
    async for page in pages(client, url, key="repositories", scope=CATALOG_SCOPE, what=what):
        repositories.update(dict.fromkeys(page))
        if limit is not None and len(repositories) >= limit:
            break
    names = list(repositories)
    return names if limit is None else names[:limit]
