"""Tags: `/v2/<name>/tags/list`, following `Link` pagination where the registry pages."""

from __future__ import annotations

import logging

from dregsy.errors import NotFoundError, RegistryError
from dregsy.reference import Repository, is_valid_tag
from dregsy.registry.client import RegistryClient
from dregsy.registry.errors import raise_for_status
from dregsy.registry.pages import pages

log = logging.getLogger(__name__)

# ECR rejects page sizes above 1000 (go-containerregistry #1091).
PAGE_SIZE = 1000
MAX_TAGS = 100_000  # tags of one repository at most: an endless tag list ends here
MAX_WARNINGS = 10  # invalid tag names warned about one by one, per repository


async def list_tags(
    client: RegistryClient, repo: Repository, *, max_tags: int = MAX_TAGS
) -> list[str]:
    """Every tag of a repository, in the registry's order, without duplicates.

    A name that is not a valid tag is skipped with a warning (the others still sync); more
    than `max_tags` tags (an endless list) is an error."""
    url = f"/v2/{repo.path}/tags/list?n={PAGE_SIZE}"
    scope = client.scope_for(repo.path)
    tags: dict[str, None] = {}
    invalid = 0
    async for page in pages(client, url, key="tags", scope=scope, what=f"{repo}: tag list"):
        for tag in page:
            if is_valid_tag(tag):
                tags[tag] = None
            else:
                invalid += 1
                if invalid <= MAX_WARNINGS:
                    log.warning("%s: skipping %r in the tag list: not a valid tag", repo, tag)
        if len(tags) > max_tags:
            raise RegistryError(f"{repo}: tag list has more than {max_tags} tags")
    if invalid > MAX_WARNINGS:
        log.warning("%s: skipped %d invalid names in the tag list", repo, invalid)
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
