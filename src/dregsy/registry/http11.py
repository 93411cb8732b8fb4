"""An HTTP/1.1 transport for httpx: h11 for the protocol, asyncio protocols for the I/O.

A no-op sync of many tags is nothing but small requests, and httpx's default transport
(httpcore over anyio) spends most of the client's CPU on them: its connection pool
re-checks every idle connection, through anyio's socket attributes, whenever a request
starts or ends, and every read and write passes through anyio's cancel scopes. Measured on
a 2-core machine, 3,000 HEADs over 8 connections took 2.4 ms of CPU each through httpx's
transport and 1.0 ms through this one. It does the same job with less: an idle list per
origin, reused last-in first-out, one semaphore for the connection cap, and h11 (the
parser httpcore uses too) for the wire format.

A connection goes back to the pool only after its response was read to the end and both
sides of h11 are done; any error, cancellation or unread body closes it. Idle connections
that received bytes or a close while idle, or idled past `KEEPALIVE`, are discarded.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from typing import NoReturn

import h11
import httpx

from dregsy.registry.wire import Wire, WireClosedError, open_wire

KEEPALIVE = 5.0  # seconds an idle connection is kept (as httpx does)
MAX_HEAD = 100 * 1024  # bytes of a response head at most (as httpx allows)
_SEND_FAILURES = (OSError, ssl.SSLError, WireClosedError)
_Origin = tuple[str, str, int]


class _Connection:
    """One connection and its h11 state."""

    __slots__ = ("h11", "idle_since", "origin", "read_timeout", "wire", "write_timeout")

    def __init__(self, origin: _Origin, wire: Wire) -> None:
        self.origin = origin
        self.wire = wire
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        self.idle_since = 0.0
        self.read_timeout: float | None = None  # seconds per wait, set for each request
        self.write_timeout: float | None = None

    async def send(self, event: h11.Event) -> None:
        data = self.h11.send(event)
        if data:
            async with asyncio.timeout(self.write_timeout):
                await self.wire.write(data)

    async def next_event(self) -> h11.Event:
        closed: str | None = None  # what to say if the peer's close leaves h11 wanting
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise (WireClosedError(closed) if closed else exc) from exc
            if isinstance(event, h11.ConnectionClosed):
                raise WireClosedError(closed or "the server closed the connection")
            if isinstance(event, h11.Event):
                return event
            if event is h11.PAUSED:  # bytes after the response: not HTTP/1.1 as we know it
                raise h11.RemoteProtocolError("data after the end of a response")
            async with asyncio.timeout(self.read_timeout):
                data = await self.wire.read()
            if not data:
                closed = (
                    "the server closed the connection before the end of the body"
                    if self.h11.their_state is h11.SEND_BODY
                    else "the server closed the connection without a response"
                )
            self.h11.receive_data(data)

    @property
    def reusable(self) -> bool:
        """Both messages complete and no stray bytes after the response."""
        return (
            self.h11.our_state is h11.DONE
            and self.h11.their_state is h11.DONE
            and not self.h11.trailing_data[0]
        )


class Http11Transport(httpx.AsyncBaseTransport):
    """Plain HTTP, or TLS with the context `tls`, to any origin; at most `max_connections`
    connections open at once (a request waits for one)."""

    def __init__(self, *, tls: ssl.SSLContext | None, max_connections: int) -> None:
        self._tls = tls
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        host = url.raw_host.decode("ascii")  # IDNA-encoded, as httpx connects
        origin = (url.scheme, host, url.port or (443 if url.scheme == "https" else 80))
        await self._slots.acquire()
        connection: _Connection | None = None
        try:
            connection = self._take_idle(origin)
            if connection is None:
                connection = await self._connect(origin, request, timeouts)
            connection.read_timeout = timeouts.get("read")
            connection.write_timeout = timeouts.get("write")
            response = await self._exchange(connection, request)
        except BaseException:
            if connection is not None:
                connection.wire.close()
            self._slots.release()
            raise
        return response

    async def aclose(self) -> None:
        self._closed = True  # connections still in use close when their response does
        for connections in self._idle.values():
            for connection in connections:
                connection.wire.close()
        self._idle.clear()

    def _take_idle(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.wire.idle_ok and now - connection.idle_since < KEEPALIVE:
                return connection
            connection.wire.close()
        return None

    def _put_idle(self, connection: _Connection) -> None:
        connection.h11.start_next_cycle()
        connection.idle_since = time.monotonic()
        self._idle.setdefault(connection.origin, []).append(connection)

    async def _connect(
        self, origin: _Origin, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> _Connection:
        scheme, host, port = origin
        tls = None
        if scheme == "https":
            if self._tls is None:
                raise httpx.UnsupportedProtocol("this transport speaks plain HTTP", request=request)
            tls = self._tls
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                wire = await open_wire(host, port, tls=tls)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(
                f"connecting to {host}:{port} timed out", request=request
            ) from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        return _Connection(origin, wire)

    async def _exchange(self, connection: _Connection, request: httpx.Request) -> httpx.Response:
        try:
            head = h11.Request(
                method=request.method, target=request.url.raw_path, headers=request.headers.raw
            )
        except h11.LocalProtocolError:
            _refuse_head(request)
        # A failed send is kept: the server may have answered early (413, 401) and closed,
        # and that answer is worth more than the broken pipe. The body's own errors (its
        # source failed) pass through as they are.
        sent = await _send(connection, head, request)
        if sent is None:
            async for chunk in request.stream:  # type: ignore[union-attr]
                if chunk:
                    sent = await _send(connection, h11.Data(data=chunk), request)
                    if sent is not None:
                        break
        if sent is None:
            sent = await _send(connection, h11.EndOfMessage(), request)
        try:
            while True:
                event = await connection.next_event()
                if isinstance(event, h11.Response):
                    break
                if not isinstance(event, h11.InformationalResponse):
                    raise WireClosedError(f"unexpected {type(event).__name__} from the server")
        except (h11.ProtocolError, WireClosedError) as exc:
            if sent is not None:
                _fail(httpx.WriteError, sent, request)
            _fail(httpx.RemoteProtocolError, exc, request)
        except TimeoutError as exc:
            _fail(httpx.ReadTimeout, exc, request)
        except (OSError, ssl.SSLError) as exc:
            _fail(httpx.WriteError if sent is not None else httpx.ReadError, sent or exc, request)
        return httpx.Response(
            event.status_code,
            headers=event.headers.raw_items(),
            stream=_Body(self, connection, request),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": event.reason},
        )

    def _finished(self, connection: _Connection, reuse: bool) -> None:
        if reuse and connection.reusable and not self._closed:
            self._put_idle(connection)
        else:
            connection.wire.close()
        self._slots.release()


class _Body(httpx.AsyncByteStream):
    """A response body; gives its connection back once read to the end, or closes it."""

    def __init__(
        self,
        transport: Http11Transport,
        connection: _Connection,
        request: httpx.Request,
    ) -> None:
        self._transport = transport
        self._connection: _Connection | None = connection
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        if connection is None:
            raise httpx.StreamClosed()
        try:
            while True:
                event = await connection.next_event()
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    raise httpx.RemoteProtocolError(f"unexpected {event!r}", request=self._request)
        except (h11.ProtocolError, WireClosedError) as exc:
            self._close(reuse=False)
            _fail(httpx.RemoteProtocolError, exc, self._request)
        except TimeoutError as exc:
            self._close(reuse=False)
            _fail(httpx.ReadTimeout, exc, self._request)
        except (OSError, ssl.SSLError) as exc:
            self._close(reuse=False)
            _fail(httpx.ReadError, exc, self._request)
        except BaseException:
            self._close(reuse=False)
            raise
        self._close(reuse=True)

    async def aclose(self) -> None:
        self._close(reuse=False)

    def _close(self, *, reuse: bool) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            self._transport._finished(connection, reuse)


async def _send(
    connection: _Connection, event: h11.Event, request: httpx.Request
) -> BaseException | None:
    """Send one event; a broken connection is returned rather than raised."""
    try:
        await connection.send(event)
    except TimeoutError as exc:
        _fail(httpx.WriteTimeout, exc, request)
    except h11.LocalProtocolError:
        _refuse_head(request)
    except _SEND_FAILURES as exc:
        return exc
    return None


def _refuse_head(request: httpx.Request) -> NoReturn:
    # h11's message quotes the offending header value, which may be a credential.
    raise httpx.LocalProtocolError(
        "the request has a header, target or body length that HTTP/1.1 cannot carry",
        request=request,
    ) from None


def _fail(kind: type[httpx.TransportError], exc: BaseException, request: httpx.Request) -> NoReturn:
    """Raise `exc` as the httpx error of that `kind` (what httpx's own transport raises)."""
    raise kind(str(exc) or type(exc).__name__, request=request) from exc
