"""Which lister serves a location: its `lister.type`, on its registry."""

from __future__ import annotations

from yarl import URL

from dregsy.config.types import ListerKind, Location
from dregsy.errors import ConfigError
from dregsy.listers.base import HubEndpoints, RepositoryLister
from dregsy.listers.catalog import CatalogLister
from dregsy.listers.dockerhub import DockerHubLister
from dregsy.listers.index import IndexLister
from dregsy.reference import parse_registry
from dregsy.registry.directory import RegistryDirectory
from dregsy.registry.http import Sender, netloc
from dregsy.registry.pool import HttpPool


class ListerFactory:
    """Builds listers with the app's registry clients and HTTP pool."""

    def __init__(
        self, registries: RegistryDirectory, pool: HttpPool, endpoints: HubEndpoints
    ) -> None:
        self._registries = registries
        self._pool = pool
        self._endpoints = endpoints

    async def lister_for(self, location: Location) -> RepositoryLister:
        spec = location.lister
        if spec.kind is ListerKind.DOCKERHUB:
            if location.credentials is None:  # the config check makes this unreachable
                raise ConfigError("lister type 'dockerhub' needs 'auth' on the source")
            hub = self._endpoints.hub
            return DockerHubLister(self._web(hub), location.credentials, base_url=hub)
        if spec.kind is ListerKind.INDEX:
            search = spec.search or ""
            if location.registry.is_docker_hub:
                index = self._endpoints.index
                return IndexLister(self._web(index), index, search)
            base = await self._registries.source(location).base_url()
            http = self._pool.client(location.registry, skip_tls_verify=location.skip_tls_verify)
            return IndexLister(http, base, search, credentials=location.credentials)
        return CatalogLister(self._registries.source(location))

    def _web(self, url: str) -> Sender:
        parsed = URL(url)
        registry = parse_registry(f"{parsed.scheme}://{netloc(parsed)}")
        return self._pool.client(registry, skip_tls_verify=False)
