"""The registry clients of a run, one per registry, identity, TLS setting and role.

Tokens live in the clients' auth, so keeping clients for the life of the process lets every
task share them. Credentials come from the location's credential source (see
`dregsy.auth.select`); ECR target repositories are created here before the first push.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from dregsy.auth.flow import RegistryAuth
from dregsy.auth.select import CredentialSources
from dregsy.config.types import Location
from dregsy.credentials import Credentials
from dregsy.registry.client import PULL, PULL_PUSH, RegistryClient
from dregsy.registry.pool import HttpPool
from dregsy.registry.quota import PullQuota

log = logging.getLogger(__name__)

_Key = tuple[Location, tuple[str, ...]]


class RegistryDirectory:
    """Hands out RegistryClients for the locations of the config, reusing them."""

    def __init__(self, pool: HttpPool, credentials: CredentialSources | None = None) -> None:
        self._pool = pool
        self._credentials = credentials or CredentialSources()
        self._clients: dict[_Key, RegistryClient] = {}

    def source(self, location: Location) -> RegistryClient:
        return self._client(location, PULL)

    def target(self, location: Location) -> RegistryClient:
        return self._client(location, PULL_PUSH)

    async def credentials(self, location: Location) -> Credentials | None:
        """The location's credentials now, from its source (for relays that hand them on)."""
        return await self._credentials.for_location(location).get()

    async def prepare_targets(self, location: Location, paths: Iterable[str]) -> dict[str, str]:
        """Make the target repositories ready for a push (ECR: create the missing ones).

        Returns the paths that are not ready, with the reason; each is logged.
        """
        if not location.registry.is_ecr:
            return {}
        from dregsy.registry.ecr_repos import EcrRepositories

        repositories = EcrRepositories(self._credentials.aws)
        failures = await repositories.ensure(location.registry, paths)
        for path, message in sorted(failures.items()):
            log.error(
                "%s/%s: cannot prepare the ECR repository: %s", location.registry, path, message
            )
        return dict(failures)

    def _client(self, location: Location, actions: tuple[str, ...]) -> RegistryClient:
        key = (location, actions)
        client = self._clients.get(key)
        if client is None:
            http = self._pool.client(
                location.registry,
                skip_tls_verify=location.skip_tls_verify,
                max_connections=location.max_connections,
                role=",".join(actions),
            )
            auth = RegistryAuth(self._credentials.for_location(location))
            quota = None
            if location.ratelimit is not None and actions == PULL:
                registry = location.registry.api_host
                quota = PullQuota(registry, location.ratelimit, self._pool.traffic)
            client = RegistryClient(
                location.registry, http, auth, actions=actions, pull_quota=quota
            )
            self._clients[key] = client
        return client
