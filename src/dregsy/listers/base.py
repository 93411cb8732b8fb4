"""The lister protocol and the Docker Hub endpoints listers talk to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from msgspec import Struct

DOCKER_HUB_API = "https://hub.docker.com"
DOCKER_INDEX_API = "https://index.docker.io"
HUB_ENV = "DREGSY_DOCKERHUB_URL"
INDEX_ENV = "DREGSY_INDEX_URL"


class RepositoryLister(Protocol):
    """Lists the repositories of one source."""

    async def repositories(self, limit: int | None) -> list[str]:
        """Repository paths, at most `limit` (None: every one)."""
        ...


class HubEndpoints(Struct, frozen=True):
    """Where the Docker Hub API and the Docker index are (tests point them elsewhere)."""

    hub: str = DOCKER_HUB_API
    index: str = DOCKER_INDEX_API

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HubEndpoints:
        """`DREGSY_DOCKERHUB_URL` and `DREGSY_INDEX_URL` override the defaults."""
        return cls(
            hub=(environ.get(HUB_ENV) or DOCKER_HUB_API).rstrip("/"),
            index=(environ.get(INDEX_ENV) or DOCKER_INDEX_API).rstrip("/"),
        )
