"""Small documents (manifests, list pages) fetched whole: bounded, and asked again when the
body breaks off part way (a GET is idempotent; the transport retries only what fails before
the body starts)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from msgspec import Struct
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from dregsy.errors import BodyBrokeOffError
from dregsy.registry.client import RegistryClient, read_capped
from dregsy.registry.errors import raise_for_status

log = logging.getLogger(__name__)

ATTEMPTS = 3
BACKOFF = 0.5  # seconds before the second attempt, doubled for each further one


class Fetched(Struct, frozen=True):
    """A 2xx response read whole: its body, headers and final URL (after redirects)."""

    body: bytes
    headers: CIMultiDictProxy[str] | CIMultiDict[str]
    url: URL


async def fetch(
    client: RegistryClient,
    path_or_url: str,
    *,
    scopes: tuple[str, ...],
    limit: int,
    what: str,
    headers: Mapping[str, str] | None = None,
) -> Fetched:
    """GET a document whole: typed errors for error statuses, SizeLimitExceededError past
    `limit` bytes, BodyBrokeOffError once every attempt broke off."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with client.stream("GET", path_or_url, scopes=scopes, headers=headers) as r:
                await raise_for_status(r)
                body = await read_capped(r, limit, what)
                return Fetched(body, r.headers, r.request.url)
        except BodyBrokeOffError as exc:
            if attempt == ATTEMPTS:
                raise
            log.debug("%s, asking again (attempt %d of %d)", exc, attempt + 1, ATTEMPTS)
            await asyncio.sleep(BACKOFF * 2 ** (attempt - 1))
    raise AssertionError("unreachable")
