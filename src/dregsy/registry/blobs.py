"""Blobs: existence checks, downloads, cross-repository mounts and uploads."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager

from msgspec import Struct
from yarl import URL

from dregsy.errors import RegistryError
from dregsy.reference import Repository
from dregsy.registry.client import RegistryClient
from dregsy.registry.errors import raise_for_status
from dregsy.registry.http import Response


class UploadStart(Struct, frozen=True):
    """The answer to POST `/blobs/uploads/`: mounted, or an upload URL to PUT to."""

    mounted: bool
    location: str | None


def _blob_path(repo: Repository, digest: str) -> str:
    return f"/v2/{repo.path}/blobs/{digest}"


async def blob_exists(client: RegistryClient, repo: Repository, digest: str) -> bool:
    """HEAD a blob: True when the repository has it."""
    scope = client.scope_for(repo.path)
    async with client.stream("HEAD", _blob_path(repo, digest), scopes=(scope,)) as response:
        if response.status_code == 404:
            return False
        await raise_for_status(response)
        return True


@asynccontextmanager
async def open_blob(
    client: RegistryClient, repo: Repository, digest: str
) -> AsyncIterator[Response]:
    """GET a blob as a stream (redirects to storage are followed without credentials)."""
    scope = client.scope_for(repo.path)
    # Blobs are compressed already; ask that nobody compresses them again on the way.
    headers = {"Accept-Encoding": "identity"}
    async with client.stream(
        "GET", _blob_path(repo, digest), scopes=(scope,), headers=headers
    ) as response:
        await raise_for_status(response)
        yield response


async def start_upload(
    client: RegistryClient,
    repo: Repository,
    *,
    mount: tuple[str, Repository] | None = None,
) -> UploadStart:
    """POST `/blobs/uploads/`, asking to mount `(digest, from_repository)` if given."""
    scopes: tuple[str, ...] = (client.scope_for(repo.path),)
    params: dict[str, str] = {}
    if mount is not None:
        digest, source = mount
        params = {"mount": digest, "from": source.path}
        scopes += (source.scope("pull"),)
    path = f"/v2/{repo.path}/blobs/uploads/"
    headers = {"Content-Length": "0"}
    async with client.stream(
        "POST", path, scopes=scopes, params=params, headers=headers
    ) as response:
        await raise_for_status(response)
        if response.status_code == 201 and mount is not None:
            return UploadStart(mounted=True, location=None)
        location = response.headers.get("location")
        if not location:
            raise RegistryError(f"{repo}: upload started without a Location header")
        try:
            url = response.url.join(URL(location, encoded=True))
        except ValueError as exc:
            raise RegistryError(f"{repo}: upload started with an invalid Location: {exc}") from None
        return UploadStart(mounted=False, location=str(url))


async def finish_upload(
    client: RegistryClient,
    repo: Repository,
    location: str,
    *,
    digest: str,
    size: int,
    body: AsyncIterable[bytes],
) -> None:
    """Send the whole blob in one PUT to the upload URL, committing it under `digest`."""
    url = URL(location, encoded=True).update_query(digest=digest)
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    scope = client.scope_for(repo.path)
    async with client.stream(
        "PUT", str(url), scopes=(scope,), headers=headers, content=body
    ) as response:
        await raise_for_status(response)
