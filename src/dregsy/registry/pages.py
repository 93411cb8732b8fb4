"""Paginated lists (`/tags/list`, `/_catalog`): pages followed by their `Link` headers.

Where a registry does not paginate (distribution 2.8's tag lists), the first page is all.
A `next` link must stay on the registry's host: the request carries its credentials.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from dregsy import jsontext
from dregsy.errors import RegistryError
from dregsy.registry.client import RegistryClient
from dregsy.registry.fetch import fetch
from dregsy.registry.follow import where
from dregsy.registry.http import origin

MAX_PAGES = 10_000
MAX_PAGE_BYTES = 8 * 1024 * 1024
_LINK_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def next_link(headers: CIMultiDictProxy[str] | CIMultiDict[str], url: URL) -> str | None:
    """The `rel="next"` URL of a paginated response, resolved against its URL."""
    for value in headers.getall("link", []):
        m = _LINK_RE.search(value)
        if m:
            try:
                return str(url.join(URL(m.group(1), encoded=True)))
            except ValueError as exc:
                raise RegistryError(f"{where(url)}: invalid Link header: {exc}") from None
    return None


async def pages(
    client: RegistryClient, url: str, *, key: str, scope: str, what: str
) -> AsyncIterator[list[str]]:
    """The `key` list of each page, from `url` on, in the registry's order."""
    base = origin(URL(await client.base_url()))
    next_url: str | None = url
    for _ in range(MAX_PAGES):
        if next_url is None:
            return
        fetched = await fetch(
            client, next_url, scopes=(scope,), limit=MAX_PAGE_BYTES, what=f"{what}: a page"
        )
        link = next_link(fetched.headers, fetched.url)
        try:
            page = jsontext.loads(fetched.body).get(key) or []  # type: ignore[attr-defined]
        except (jsontext.JSONError, AttributeError) as exc:
            raise RegistryError(f"{what} is not valid JSON") from exc
        yield [str(item) for item in page]
        if link is not None and origin(URL(link, encoded=True)) != base:
            raise RegistryError(f"{what}: pagination leads to another host or scheme")
        next_url = link
    raise RegistryError(f"{what} has more than {MAX_PAGES} pages")
