"""Which credential source a location gets, in this order:

1. `auth: none`: anonymous, nothing is looked up;
2. `auth-refresh` (ECR only): the AWS API, as dregsy does even when `auth` is also given;
3. `auth` or `auth-file`: those credentials;
4. an ECR host: the AWS API; a GCR or Artifact Registry host: Google's default credentials;
5. otherwise Docker's `config.json` and credential helpers, anonymous when they have none.

Sources are kept per location, so the clients of one location (pull and push) share them.
The AWS, Google and Docker-config modules are imported only when a location needs them:
start-up time counts on every run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from dregsy.auth.sources import CredentialSource, StaticSource, WallClock
from dregsy.config.types import Location
from dregsy.credentials import Credentials
from dregsy.reference import Registry

if TYPE_CHECKING:
    from dregsy.auth.aws import AwsClients
    from dregsy.auth.google import GoogleSource, TokenFetch

log = logging.getLogger(__name__)

_Key = tuple[Registry, Credentials | None, bool, float | None]


class CredentialSources:
    """Chooses, and keeps, the credential source of each location."""

    def __init__(
        self,
        *,
        docker_config: Path | None = None,
        search_path: str | None = None,
        aws: AwsClients | None = None,
        google: TokenFetch | None = None,
        clock: WallClock = time.time,
    ) -> None:
        self._docker_config = docker_config
        self._search_path = search_path
        self._aws = aws
        self._google_fetch = google
        self._google: GoogleSource | None = None
        self._clock = clock
        self._sources: dict[_Key, CredentialSource] = {}

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> CredentialSources:
        """Docker's config file and helpers as the environment says (DOCKER_CONFIG, HOME,
        PATH); AWS and Google read their own variables when first used."""
        from dregsy.auth.dockerconfig import docker_config_path

        return cls(docker_config=docker_config_path(env), search_path=env.get("PATH"))

    @property
    def aws(self) -> AwsClients:
        """The AWS clients (ECR tokens, repositories), made on first use."""
        if self._aws is None:
            from dregsy.auth.aws import AwsClients

            self._aws = AwsClients()
        return self._aws

    def for_location(self, location: Location) -> CredentialSource:
        key = (location.registry, location.credentials, location.anonymous, location.auth_refresh)
        source = self._sources.get(key)
        if source is None:
            source = self._sources[key] = self._choose(location)
            log.debug("%s: credential source: %s", location.registry, source.label)
        return source

    def _choose(self, location: Location) -> CredentialSource:
        registry = location.registry
        if location.anonymous:
            return StaticSource(None)
        # Plain `public.ecr.aws` (no `<account>@` alias) is public: anonymous, as in dregsy.
        aws_registry = registry.ecr_region is not None or registry.ecr_public_alias is not None
        if location.auth_refresh is not None or (location.credentials is None and aws_registry):
            from dregsy.auth.ecr import EcrSource

            return EcrSource(registry, self.aws, refresh=location.auth_refresh, clock=self._clock)
        if location.credentials is not None:
            return StaticSource(location.credentials)
        from dregsy.auth.google import is_google_registry

        if is_google_registry(registry):
            return self._google_source()
        if self._docker_config is not None:
            from dregsy.auth.dockerconfig import DockerConfigSource

            return DockerConfigSource(
                registry, self._docker_config, search_path=self._search_path, clock=self._clock
            )
        return StaticSource(None)

    def _google_source(self) -> GoogleSource:
        """One source for every Google location (the same default credentials)."""
        if self._google is None:
            from dregsy.auth.google import ApplicationDefaultTokens, GoogleSource

            fetch = self._google_fetch or ApplicationDefaultTokens()
            self._google = GoogleSource(fetch, clock=self._clock)
        return self._google
