"""Tags: `/v2/<name>/tags/list`, following `Link` pagination where the registry pages."""

from __future__ import annotations

from dregsy.errors import NotFoundError, RegistryError
from dregsy.reference import Repository
from dregsy.registry.client import RegistryClient
from dregsy.registry.errors import raise_for_status
from dregsy.registry.pages import pages

# ECR rejects page sizes above 1000 (go-containerregistry #1091).
PAGE_SIZE = 1000


async def list_tags(client: RegistryClient, repo: Repository) -> list[str]:
    """Every tag of a repository, in the registry's order, without duplicates."""
    url = f"/v2/{repo.path}/tags/list?n={PAGE_SIZE}"
    scope = client.scope_for(repo.path)
    tags: dict[str, None] = {}
    async for page in pages(client, url, key="tags", scope=scope, what=f"{repo}: tag list"):
        tags.update(dict.fromkeys(page))
    return list(tags)


async def has_tags(client: RegistryClient, repo: Repository) -> bool | None:
    """False when the repository's tag list is 404 (no such repository, as far as tags
    go); True when it answers, even with no tags (the repository exists and may hold
    blobs); None when the registry would not say."""
    scope = client.scope_for(repo.path)
    url = f"/v2/{repo.path}/tags/list?n=1"
    try:
        async with client.stream("GET", url, scopes=(scope,)) as response:
            await raise_for_status(response)
    except NotFoundError:
        return False
    except RegistryError:
        return None
    return True
