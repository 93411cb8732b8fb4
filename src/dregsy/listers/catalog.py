"""The catalog lister: a registry's own `/v2/_catalog` (dregsy's default)."""

from __future__ import annotations

from dregsy.registry.catalog import list_repositories
from dregsy.registry.client import RegistryClient


class CatalogLister:
    """Pages through the catalog with the source's client (and its credentials)."""

    def __init__(self, client: RegistryClient) -> None:
        self._client = client

    async def repositories(self, limit: int | None) -> list[str]:
        return await list_repositories(self._client, limit=limit)
