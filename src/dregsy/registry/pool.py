"""HTTP clients, one per registry host, TLS setting, connection cap and role, shared by
every task.

Each client is a stack of senders: retries (with the registry-wide 429 pause) over traffic
recording (every response, each attempt) over an aiohttp session (`dregsy.registry.session`).
"""

from __future__ import annotations

import ssl
from pathlib import Path

from aiohttp.abc import AbstractResolver
from msgspec import Struct, field

from dregsy.config.types import DEFAULT_MAX_CONNECTIONS
from dregsy.reference import Registry
from dregsy.registry.backoff import RegistryPauses
from dregsy.registry.http import Sender
from dregsy.registry.proxy import ProxySettings
from dregsy.registry.retry import RetryPolicy, RetrySender
from dregsy.registry.session import Session
from dregsy.registry.tls import host_material, ssl_context
from dregsy.registry.traffic import RegistryTraffic, TrafficSender


class HttpSettings(Struct, frozen=True):
    """Connection settings shared by all registries."""

    certs_dir: Path
    skopeo_certs_dir: Path | None = None  # `<dir>/<host-without-port>/`, skopeo relay only
    # per registry host and role, unless a location says otherwise
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    connect_timeout: float = 30.0
    read_timeout: float = 120.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    proxies: ProxySettings = field(default_factory=ProxySettings)  # HTTPS_PROXY, NO_PROXY, ...


class HttpPool:
    """Creates and owns the HTTP clients; close it once at the end."""

    def __init__(
        self,
        settings: HttpSettings,
        traffic: RegistryTraffic | None = None,
        *,
        resolver: AbstractResolver | None = None,  # tests: names to loopback servers
    ) -> None:
        self._settings = settings
        self.traffic = traffic or RegistryTraffic()  # the App's, which outlives this pool
        self._resolver = resolver
        self._pauses = RegistryPauses()
        self._clients: dict[tuple[str, bool, int, str], Sender] = {}

    def client(
        self,
        registry: Registry,
        *,
        skip_tls_verify: bool,
        max_connections: int | None = None,
        role: str = "",
    ) -> Sender:
        """The client for a registry. Each `role` (e.g. pulling, pushing) gets its own
        connections: a blob streams from a GET into a PUT, so when source and target are
        one registry, shared connections could all be held by GETs waiting for PUTs."""
        cap = max_connections or self._settings.max_connections
        key = (registry.api_host, skip_tls_verify, cap, role)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._build(registry, skip_tls_verify, cap)
        return client

    def _build(self, registry: Registry, skip_tls_verify: bool, cap: int) -> Sender:
        s = self._settings

        def tls() -> ssl.SSLContext | bool:
            return False if skip_tls_verify else self._tls(registry)

        session = Session(
            tls=tls,
            max_connections=cap,
            connect_timeout=s.connect_timeout,
            read_timeout=s.read_timeout,
            proxies=s.proxies,
            resolver=self._resolver,
        )
        return RetrySender(
            TrafficSender(session, registry, self.traffic),
            s.retry,
            pause=self._pauses.for_registry(registry.api_host),
        )

    def _tls(self, registry: Registry) -> ssl.SSLContext | bool:
        """The registry's own context, or True: the system's CAs (aiohttp's default)."""
        s = self._settings
        host_dirs = [s.certs_dir / registry.api_host]
        if s.skopeo_certs_dir is not None:
            host_dirs.append(s.skopeo_certs_dir / registry.hostname)
        if host_material(host_dirs):
            return ssl_context(host_dirs)
        return True

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
