"""The registry clients of a run, one per registry, identity, TLS setting and role.

Tokens live in the clients' auth, so keeping clients for the life of the process lets every
task share them.
"""

from __future__ import annotations

from dregsy.auth.flow import RegistryAuth
from dregsy.config.types import Location
from dregsy.credentials import Credentials
from dregsy.reference import Registry
from dregsy.registry.client import PULL, PULL_PUSH, RegistryClient
from dregsy.registry.pool import HttpPool

_Key = tuple[Registry, Credentials | None, bool, tuple[str, ...]]


class RegistryDirectory:
    """Hands out RegistryClients for the locations of the config, reusing them."""

    def __init__(self, pool: HttpPool) -> None:
        self._pool = pool
        self._clients: dict[_Key, RegistryClient] = {}

    def source(self, location: Location) -> RegistryClient:
        return self._client(location, PULL)

    def target(self, location: Location) -> RegistryClient:
        return self._client(location, PULL_PUSH)

    def _client(self, location: Location, actions: tuple[str, ...]) -> RegistryClient:
        key = (location.registry, location.credentials, location.skip_tls_verify, actions)
        client = self._clients.get(key)
        if client is None:
            http = self._pool.client(location.registry, skip_tls_verify=location.skip_tls_verify)
            auth = RegistryAuth(location.credentials)
            client = RegistryClient(location.registry, http, auth, actions=actions)
            self._clients[key] = client
        return client
