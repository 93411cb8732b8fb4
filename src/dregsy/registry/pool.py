"""HTTP clients, one per registry host and TLS setting, shared by every task.

Each client's transport stack is: retries (with the registry-wide 429 pause) over traffic
recording (every response, each attempt) over the plain/TLS connection pools.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from dregsy import __version__
from dregsy.reference import Registry
from dregsy.registry.aio import AiohttpTransport
from dregsy.registry.backoff import RegistryPauses
from dregsy.registry.proxy import ProxySettings
from dregsy.registry.retry import RetryPolicy, RetryTransport
from dregsy.registry.tls import host_material, ssl_context
from dregsy.registry.traffic import RegistryTraffic, TrafficTransport

USER_AGENT = f"dregsy/{__version__}"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Connection settings shared by all registries."""

    certs_dir: Path
    skopeo_certs_dir: Path | None = None  # `<dir>/<host-without-port>/`, skopeo relay only
    max_connections: int = 8  # per registry host, unless a location says otherwise
    connect_timeout: float = 30.0
    read_timeout: float = 120.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    proxies: ProxySettings = field(default_factory=ProxySettings)  # HTTPS_PROXY, NO_PROXY, ...


class SchemeTransport(httpx.AsyncBaseTransport):
    """A plain-HTTP and a TLS transport, the TLS one made on first use: loading the
    system's CA certificates costs tens of milliseconds that plain registries never need."""

    def __init__(self, make: Callable[[bool], httpx.AsyncBaseTransport]) -> None:
        self._make = make
        self._transports: dict[bool, httpx.AsyncBaseTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        tls = request.url.scheme == "https"
        transport = self._transports.get(tls)
        if transport is None:
            transport = self._transports[tls] = self._make(tls)
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()
        self._transports.clear()


class HttpPool:
    """Creates and owns the httpx clients; close it once at the end."""

    def __init__(self, settings: HttpSettings, traffic: RegistryTraffic | None = None) -> None:
        self._settings = settings
        self.traffic = traffic or RegistryTraffic()  # the App's, which outlives this pool
        self._pauses = RegistryPauses()
        self._clients: dict[tuple[str, bool, int, str], httpx.AsyncClient] = {}
        self._default_tls: ssl.SSLContext | None = None  # loading system CAs costs; share it

    def client(
        self,
        registry: Registry,
        *,
        skip_tls_verify: bool,
        max_connections: int | None = None,
        role: str = "",
    ) -> httpx.AsyncClient:
        """The client for a registry. Each `role` (e.g. pulling, pushing) gets its own
        connections: a blob streams from a GET into a PUT, so when source and target are
        one registry, shared connections could all be held by GETs waiting for PUTs."""
        cap = max_connections or self._settings.max_connections
        key = (registry.api_host, skip_tls_verify, cap, role)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._build(registry, skip_tls_verify, cap)
        return client

    def _build(self, registry: Registry, skip_tls_verify: bool, cap: int) -> httpx.AsyncClient:
        s = self._settings

        def make(tls: bool) -> httpx.AsyncBaseTransport:
            context: ssl.SSLContext | None = None
            if tls:
                context = _unverified_tls() if skip_tls_verify else self._tls(registry)

            def transport(proxy: str | None) -> httpx.AsyncBaseTransport:
                return AiohttpTransport(tls=context, max_connections=cap, proxy=proxy)

            return s.proxies.transport(transport)

        return httpx.AsyncClient(
            transport=RetryTransport(
                TrafficTransport(SchemeTransport(make), registry, self.traffic),
                s.retry,
                pause=self._pauses.for_registry(registry.api_host),
            ),
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout, pool=None),
            follow_redirects=False,  # registry.follow does it, by its own policy
            headers={"User-Agent": USER_AGENT},
        )

    def _tls(self, registry: Registry) -> ssl.SSLContext:
        s = self._settings
        host_dirs = [s.certs_dir / registry.api_host]
        if s.skopeo_certs_dir is not None:
            host_dirs.append(s.skopeo_certs_dir / registry.hostname)
        if host_material(host_dirs):
            return ssl_context(host_dirs)
        if self._default_tls is None:
            self._default_tls = ssl_context([])
        return self._default_tls

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


def _unverified_tls() -> ssl.SSLContext:
    """TLS without certificate checks (`skip-tls-verify`); no CA bundle to load."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
