"""Referrers: the API (`/v2/<name>/referrers/<digest>`) and the fallback tag's index.

A registry that serves the API never answers it with 404 (an unknown subject has an empty
list); a 404 means the registry does not serve it, and clients read and write the fallback
tag instead (OCI distribution spec 1.1). Whether a registry serves it is learned once, by
the first request an image needs anyway, and remembered for the registry.
"""

from __future__ import annotations

import asyncio

from msgspec import Struct

from dregsy import mediatypes
from dregsy.digest import digest_of, is_digest
from dregsy.errors import DigestMismatchError
from dregsy.manifest import MAX_MANIFEST_BYTES
from dregsy.reference import Reference, Repository
from dregsy.referrers import Referrer, parse_referrers
from dregsy.registry.client import RegistryClient, read_capped
from dregsy.registry.errors import MAX_ERROR_BODY_BYTES, describe_error_body, raise_for_status
from dregsy.registry.pages import next_link

_INDEX_ACCEPT = {"Accept": mediatypes.OCI_INDEX}
MAX_PAGES = 100
# Answers that mean "no referrers API here". The spec says 404; registries without the
# route also answer 400, 405 or 406 (crane falls back on those too).
_NO_API = (400, 404, 405, 406)


class TagIndex(Struct, frozen=True):
    """A fallback tag's index as read: its bytes, digest, entries and ETag (if any)."""

    raw: bytes
    digest: str
    entries: list[Referrer]
    etag: str | None


class RepositoryUnknown:
    """The API's 404 for a repository it does not know (`NAME_UNKNOWN`): no referrers,
    and no answer on whether the registry serves the API."""


REPOSITORY_UNKNOWN = RepositoryUnknown()


async def list_referrers(
    client: RegistryClient, repo: Repository, digest: str
) -> list[Referrer] | RepositoryUnknown | None:
    """The referrers of `digest` from the API, every page; None when the registry does not
    serve the API (404, or another answer of a missing route, or not an OCI index)."""
    scope = client.scope_for(repo.path)
    url: str | None = f"/v2/{repo.path}/referrers/{digest}"
    found: list[Referrer] = []
    what = f"referrers of {repo}@{digest}"
    for _ in range(MAX_PAGES):
        if url is None:
            return found
        async with client.stream("GET", url, scopes=(scope,), headers=_INDEX_ACCEPT) as response:
            if response.status_code in _NO_API:
                body = b""
                if response.status_code == 404:
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) >= MAX_ERROR_BODY_BYTES:
                            break
                unknown = "NAME_UNKNOWN" in describe_error_body(body)[1]
                return REPOSITORY_UNKNOWN if unknown else None
            await raise_for_status(response)
            content_type = response.headers.get("content-type", "").split(";")[0].strip()
            if content_type and content_type != mediatypes.OCI_INDEX:
                return None
            raw = await read_capped(response, MAX_MANIFEST_BYTES, what)
            url = next_link(response.headers, response.request.url)
        found.extend(parse_referrers(raw, what))
    return found


async def read_tag_index(client: RegistryClient, ref: Reference) -> TagIndex | None:
    """GET a fallback tag's index; None when the tag does not exist."""
    scope = client.scope_for(ref.repository.path)
    path = f"/v2/{ref.repository.path}/manifests/{ref.identifier}"
    async with client.stream("GET", path, scopes=(scope,), headers=_INDEX_ACCEPT) as response:
        if response.status_code == 404:
            return None
        await raise_for_status(response)
        raw = await read_capped(response, MAX_MANIFEST_BYTES, f"referrers index {ref}")
        etag = response.headers.get("etag")
        header_digest = response.headers.get("docker-content-digest")
    digest = digest_of(raw)
    if header_digest and is_digest(header_digest) and header_digest != digest:
        raise DigestMismatchError(
            f"referrers index {ref}: registry says {header_digest}, content hashes to {digest}"
        )
    return TagIndex(raw, digest, parse_referrers(raw, f"referrers index {ref}"), etag)


async def put_tag_index(
    client: RegistryClient, ref: Reference, raw: bytes, *, if_match: str | None = None
) -> bool:
    """PUT a fallback tag's index; False when the registry says it changed meanwhile (412).

    `if_match` is the ETag of the index that was merged; without one (a new tag) the PUT
    asks `If-None-Match: *`. Registries that ignore both are checked by reading again.
    """
    scope = client.scope_for(ref.repository.path)
    path = f"/v2/{ref.repository.path}/manifests/{ref.identifier}"
    headers = {"Content-Type": mediatypes.OCI_INDEX}
    if if_match is not None:
        headers["If-Match"] = if_match
    else:
        headers["If-None-Match"] = "*"
    async with client.stream("PUT", path, scopes=(scope,), headers=headers, content=raw) as resp:
        if resp.status_code == 412:
            return False
        await raise_for_status(resp)
    return True


class ReferrersSupport:
    """Which registries serve the referrers API, learned from their first answer."""

    def __init__(self) -> None:
        self._known: dict[str, bool] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    def _key(client: RegistryClient) -> str:
        return f"{client.registry.scheme}://{client.registry.api_host}"

    def serves_api(self, client: RegistryClient) -> bool | None:
        """True or False once known; None before the registry was asked."""
        return self._known.get(self._key(client))

    def learn(self, client: RegistryClient, serves: bool) -> None:
        self._known[self._key(client)] = serves

    async def list(
        self, client: RegistryClient, repo: Repository, digest: str
    ) -> list[Referrer] | None:
        """The API's referrers of `digest`, or None when the registry does not serve it.

        While that is unknown, one image asks (its own question is the probe) and the
        others wait for the answer.
        """
        key = self._key(client)
        if key not in self._known:
            async with self._locks.setdefault(key, asyncio.Lock()):
                if key not in self._known:
                    found = await list_referrers(client, repo, digest)
                    if isinstance(found, RepositoryUnknown):
                        return None  # undecided: the fallback tag answers (it is absent too)
                    self._known[key] = found is not None
                    return found
        if not self._known[key]:
            return None
        found = await list_referrers(client, repo, digest)
        if found is None or isinstance(found, RepositoryUnknown):
            return []  # the API serves nothing here (a repository it does not know)
        return found
