"""The HTTP endpoint (aiohttp.web): `/metrics`, `/healthz`, `/readyz`, `/` and `/api/status`.

`start` binds before anything syncs, so a port in use is an `EndpointError` the command
turns into exit status 2. Requests are not logged (probes and scrapes would flood the log).
"""

from __future__ import annotations

import json
import logging

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from dregsy.errors import EndpointError
from dregsy.observe import page
from dregsy.observe.address import ListenAddress
from dregsy.observe.status import StatusBoard

log = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store"}


def _app(board: StatusBoard, registry: CollectorRegistry) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n", headers=_NO_STORE)

    async def readyz(request: web.Request) -> web.Response:
        if board.ready:
            return web.Response(text="ready\n", headers=_NO_STORE)
        return web.Response(status=503, text="no configuration loaded yet\n", headers=_NO_STORE)

    async def status_page(request: web.Request) -> web.Response:
        return web.Response(
            text=page.render(board), content_type="text/html", charset="utf-8", headers=_NO_STORE
        )

    async def api_status(request: web.Request) -> web.Response:
        body = json.dumps(board.snapshot(), indent=2) + "\n"
        return web.Response(text=body, content_type="application/json", headers=_NO_STORE)

    app = web.Application()
    app.router.add_get("/", status_page)
    app.router.add_get("/api/status", api_status)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", make_aiohttp_handler(registry, disable_compression=True))
    return app


class Endpoint:
    """The running HTTP server; `urls` says where it listens."""

    def __init__(self, runner: web.AppRunner) -> None:
        self._runner = runner

    @property
    def urls(self) -> list[str]:
        return [f"http://{_host_port(addr)}/" for addr in self._runner.addresses]

    async def aclose(self) -> None:
        await self._runner.cleanup()


async def start(
    address: ListenAddress, board: StatusBoard, registry: CollectorRegistry
) -> Endpoint:
    """Listen at `address` and serve; EndpointError if that is not possible."""
    runner = web.AppRunner(
        _app(board, registry), access_log=None, handle_signals=False, shutdown_timeout=1.0
    )
    await runner.setup()
    site = web.TCPSite(runner, address.host, address.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = exc.strerror or str(exc)
        raise EndpointError(f"cannot listen on {address}: {reason}") from None
    endpoint = Endpoint(runner)
    log.info("serving metrics and status at %s", ", ".join(endpoint.urls))
    return endpoint


def _host_port(address: object) -> str:
    """`127.0.0.1:9090` or `[::1]:9090` for a socket address tuple."""
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = str(address[0]), address[1]
        if ":" in host:
            return f"[{host}]:{port}"
        return f"{host}:{port}"
    return str(address)
