"""Request handlers served for real, over loopback, to dregsy's aiohttp-based client.

A test writes its server as a plain function from an `httpx.Request` to an `httpx.Response`
(httpx's types are a convenient way to say what a server sees and answers; dregsy's client
does not use them). `LoopbackWeb` serves such a handler from an `aiohttp.web` server on
127.0.0.1 (plain HTTP, and HTTPS with a test certificate when given one) or on a UNIX
socket (a Docker daemon). Its `resolver` sends every host name to it, so a client can talk
to `http://src.test` and `http://blobs.test` as if they were separate machines: the
handler sees the name in the request's URL (from the `Host` header).

What a handler can make happen on the wire:
- a body that raises `httpx.TransportError` part way is cut there (the connection closes
  after the bytes sent so far);
- `httpx.ConnectError` from the handler closes the connection without an answer.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Self

import httpx
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from multidict import CIMultiDict

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]
_SKIPPED = frozenset({"transfer-encoding", "connection", "keep-alive"})


class LoopbackWeb:
    """Serves `handler` on 127.0.0.1; start with `async with`."""

    def __init__(
        self,
        handler: Handler,
        *,
        tls: ssl.SSLContext | None = None,
        ipv6: bool = False,
        unix: str | None = None,
    ) -> None:
        self.handler = handler
        self._tls = tls
        self._ipv6 = ipv6
        self._unix = unix  # a UNIX socket path to serve on instead of TCP
        self._runner: web.AppRunner | None = None
        self._starting = asyncio.Lock()
        self.port = 0
        self.tls_port = 0
        self.ipv6_port = 0  # with ipv6=True: plain HTTP on [::1]
        self.peers: list[int] = []  # the client's port of each request, in order

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen (once; later calls return at once)."""
        async with self._starting:
            if self._runner is None:
                await self._start()

    async def _start(self) -> None:
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{path:.*}", self._serve)
        # Handlers still streaming at the end (an endless body) are cancelled, not awaited.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        self._runner = runner
        if self._unix is not None:
            await web.UnixSite(runner, self._unix).start()
            return
        plain = web.TCPSite(runner, "127.0.0.1", 0)
        await plain.start()
        self.port = _port(plain)
        if self._tls is not None:
            secure = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self._tls)
            await secure.start()
            self.tls_port = _port(secure)
        if self._ipv6:
            v6 = web.TCPSite(runner, "::1", 0)
            await v6.start()
            self.ipv6_port = _port(v6)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def resolver(self) -> AbstractResolver:
        """Every name to this server: port 443 to its HTTPS site, any other to plain HTTP.
        The server starts on the first name asked for, if it has not yet."""
        return _Resolver(self)

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.peers.append(int(peer[1]) if peer else 0)
        body = await request.read()
        scheme = "https" if request.secure else "http"
        asked = httpx.Request(
            request.method,
            f"{scheme}://{request.host}{request.raw_path}",
            headers=list(request.headers.items()),
        )
        asked._content = body  # what was sent, as it arrived
        asked.stream = httpx.ByteStream(body)
        try:
            answer = self.handler(asked)
            if inspect.isawaitable(answer):
                answer = await answer
        except httpx.ConnectError:
            _cut(request)
            raise web.HTTPInternalServerError() from None
        assert isinstance(answer, httpx.Response)
        headers = CIMultiDict(
            (k, v) for k, v in answer.headers.multi_items() if k.lower() not in _SKIPPED
        )
        if isinstance(answer.stream, httpx.ByteStream) and "content-length" not in headers:
            headers["Content-Length"] = str(len(answer.content))  # as real registries do
        response = web.StreamResponse(status=answer.status_code, headers=headers)
        await response.prepare(request)
        if request.method != "HEAD":
            try:
                stream = answer.stream
                assert isinstance(stream, httpx.AsyncByteStream)
                async for chunk in stream:
                    await response.write(chunk)
            except httpx.TransportError:
                _cut(request)
                return response
        await response.write_eof()
        return response


def _cut(request: web.Request) -> None:
    """Close the connection now, after what was written so far."""
    if request.transport is not None:
        request.transport.close()


def _port(site: web.TCPSite) -> int:
    server = site._server
    assert isinstance(server, asyncio.base_events.Server)
    return int(server.sockets[0].getsockname()[1])


class _Resolver(AbstractResolver):
    def __init__(self, web_server: LoopbackWeb) -> None:
        self._web = web_server

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        await self._web.start()
        to = self._web.tls_port if port == 443 and self._web.tls_port else self._web.port
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=to,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None
