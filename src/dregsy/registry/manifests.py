"""Manifests: HEAD, GET and PUT of `/v2/<name>/manifests/<reference>`."""

from __future__ import annotations

from msgspec import Struct

from dregsy import mediatypes
from dregsy.digest import digest_of, is_digest, verify_bytes
from dregsy.errors import DigestMismatchError
from dregsy.manifest import MAX_MANIFEST_BYTES, Manifest, parse_manifest
from dregsy.reference import Reference
from dregsy.registry.client import RegistryClient
from dregsy.registry.errors import raise_for_status
from dregsy.registry.fetch import fetch

_ACCEPT = {"Accept": mediatypes.ACCEPT}


class ManifestHead(Struct, frozen=True):
    """What a HEAD tells about a manifest; `digest` is None if the registry did not say."""

    digest: str | None
    media_type: str
    size: int | None


def _path(ref: Reference) -> str:
    return f"/v2/{ref.repository.path}/manifests/{ref.identifier}"


async def head_manifest(client: RegistryClient, ref: Reference) -> ManifestHead | None:
    """HEAD a manifest; None when it does not exist."""
    scope = client.scope_for(ref.repository.path)
    async with client.stream("HEAD", _path(ref), scopes=(scope,), headers=_ACCEPT) as response:
        if response.status_code == 404:
            return None
        await raise_for_status(response)
        digest = response.headers.get("docker-content-digest")
        if digest is not None and not is_digest(digest):
            digest = None
        length = response.headers.get("content-length")
        return ManifestHead(
            digest=digest if digest else ref.digest,
            media_type=response.headers.get("content-type", "").split(";")[0].strip(),
            size=int(length) if length and length.isdigit() else None,
        )


async def get_manifest(client: RegistryClient, ref: Reference) -> Manifest:
    """GET a manifest's exact bytes, verified against the digest it was asked for.

    Raises PullQuotaLowError, before asking, when the client's pull quota is low."""
    if client.pull_quota is not None:
        client.pull_quota.check()
    scope = client.scope_for(ref.repository.path)
    fetched = await fetch(
        client,
        _path(ref),
        scopes=(scope,),
        headers=_ACCEPT,
        limit=MAX_MANIFEST_BYTES,
        what=f"manifest {ref}",
    )
    raw = fetched.body
    content_type = fetched.headers.get("content-type")
    header_digest = fetched.headers.get("docker-content-digest")
    if ref.digest is not None:
        verify_bytes(raw, ref.digest, f"manifest {ref}")
        digest = ref.digest
    else:
        digest = digest_of(raw)
        if header_digest and header_digest.startswith("sha256:") and header_digest != digest:
            raise DigestMismatchError(
                f"manifest {ref}: registry says {header_digest}, content hashes to {digest}"
            )
    return parse_manifest(raw, digest=digest, content_type=content_type)


async def put_manifest(client: RegistryClient, ref: Reference, manifest: Manifest) -> str | None:
    """PUT a manifest's exact bytes under a tag or its digest; returns the `OCI-Subject`
    header (a registry with the referrers API names the subject of a referrer with it)."""
    scope = client.scope_for(ref.repository.path)
    headers = {"Content-Type": manifest.media_type}
    async with client.stream(
        "PUT", _path(ref), scopes=(scope,), headers=headers, content=manifest.raw
    ) as response:
        await raise_for_status(response)
        echoed = response.headers.get("docker-content-digest")
        subject: str | None = response.headers.get("oci-subject")
    if echoed and echoed.startswith("sha256:") and echoed != manifest.digest:
        raise DigestMismatchError(
            f"manifest {ref}: registry stored it as {echoed}, expected {manifest.digest}"
        )
    return subject
