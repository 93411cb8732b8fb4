"""Tags: `/v2/<name>/tags/list`, following `Link` pagination where the registry pages."""

from __future__ import annotations

import json
import re

import httpx

from dregsy.errors import RegistryError
from dregsy.reference import Repository
from dregsy.registry.client import RegistryClient
from dregsy.registry.errors import raise_for_status

# ECR rejects page sizes above 1000 (go-containerregistry #1091).
PAGE_SIZE = 1000
MAX_PAGES = 10_000
_LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def next_link(response: httpx.Response) -> str | None:
    """The `rel="next"` URL of a paginated response, resolved against the request URL."""
    for value in response.headers.get_list("link"):
        m = _LINK_RE.search(value)
        if m:
            return str(response.request.url.join(m.group(1)))
    return None


async def list_tags(client: RegistryClient, repo: Repository) -> list[str]:
    """Every tag of a repository, in the registry's order, without duplicates."""
    scope = client.scope_for(repo.path)
    url: str | None = f"/v2/{repo.path}/tags/list?n={PAGE_SIZE}"
    tags: dict[str, None] = {}
    base_host = httpx.URL(await client.base_url()).netloc
    for _ in range(MAX_PAGES):
        if url is None:
            return list(tags)
        async with client.stream("GET", url, scopes=(scope,)) as response:
            await raise_for_status(response)
            body = await response.aread()
            link = next_link(response)
        try:
            page = json.loads(body).get("tags") or []
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
            raise RegistryError(f"{repo}: tag list is not valid JSON") from exc
        tags.update((str(t), None) for t in page)
        if link is not None and httpx.URL(link).netloc != base_host:
            raise RegistryError(f"{repo}: tag list pagination leads to another host")
        url = link
    raise RegistryError(f"{repo}: tag list has more than {MAX_PAGES} pages")
