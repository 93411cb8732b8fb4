"""dregsy's HTTP vocabulary: a request, a streamed response, the transport errors, and the
`Sender` protocol every layer of the registry client speaks (retries, traffic counts, the
aiohttp session at the bottom; see `dregsy.registry.session`).

A `Request` is plain data: method, URL (a `yarl.URL`, sent as written), headers, a body
(bytes, which can be sent again, or an async iterable, which cannot), the token scopes it
needs and whether it may be retried. A `Response` streams its body from a `BodySource`;
read to the end, its connection is reused, closed unread, the connection is dropped.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Protocol

from msgspec import Struct, field
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

Body = bytes | AsyncIterable[bytes] | None


class TransportError(Exception):
    """The request or its response did not make it whole; the text says why and never
    quotes a header value."""


class ConnectError(TransportError):
    """No connection could be opened (refused, unreachable, TLS handshake refused)."""


class ConnectTimeout(TransportError):
    """No connection within the connect timeout."""


class ReadTimeout(TransportError):
    """No response byte within the read timeout."""


class WriteError(TransportError):
    """The connection broke while the request was being sent."""


class ReadError(TransportError):
    """The connection broke while the response was being read."""


class RemoteProtocolError(TransportError):
    """The server's answer is not HTTP/1.1 as we know it, or it stopped early."""


class LocalProtocolError(TransportError):
    """The request cannot be carried by HTTP/1.1 (a header or target it cannot hold)."""


class UnsupportedProtocol(TransportError):
    """A URL whose scheme is neither http nor https."""


def netloc(url: URL) -> str:
    """`host[:port]` as written (no user information), `[::1]:5000` for IPv6."""
    return url.host_port_subcomponent or ""


def origin(url: URL) -> tuple[str, str]:
    """Scheme and `host[:port]`: what credentials are tied to."""
    return url.scheme, netloc(url)


def headers_of(pairs: Iterable[tuple[str, str]] | None = None) -> CIMultiDict[str]:
    return CIMultiDict(pairs or ())


class Request(Struct, eq=False):
    """One HTTP request, as sent (the auth layer adds `Authorization` to its headers)."""

    method: str
    url: URL
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: Body = None
    scopes: tuple[str, ...] = ()  # the token scopes it needs (the auth layer reads them)
    retry: bool = True  # False: sent once, whatever happens

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent again (bytes or none, not a one-shot stream)."""
        return self.body is None or isinstance(self.body, bytes)


class BodySource(Protocol):
    """Where a response's body comes from (the session's connection)."""

    def chunks(self) -> AsyncIterator[bytes]:
        """The body, in the pieces it arrives in."""

    async def read(self) -> bytes:
        """The whole body at once."""

    def release(self) -> None:
        """The body was read to the end: the connection may be reused."""

    def close(self) -> None:
        """The body is abandoned: the connection is dropped."""


class Response:
    """A response whose body streams from its connection; read it, or close it."""

    __slots__ = (
        "_consumed",
        "_content",
        "_done",
        "_limit",
        "_source",
        "headers",
        "request",
        "status_code",
    )

    def __init__(
        self,
        status_code: int,
        headers: CIMultiDictProxy[str] | CIMultiDict[str],
        request: Request,
        source: BodySource | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.request = request
        self._source = source
        self._consumed = source is None  # reading began
        self._done = source is None  # the connection was released or dropped
        self._content: bytes | None = None if source is not None else b""
        self._limit: tuple[int, Exception | None] | None = None

    @property
    def url(self) -> URL:
        return self.request.url

    @property
    def is_stream_consumed(self) -> bool:
        return self._consumed

    def bound(self, limit: int, error: Exception | None = None) -> None:
        """Stop every later read at `limit` bytes: past it raise `error`, or (without one)
        end the body there and drop its connection."""
        self._limit = (limit, error)

    async def aiter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        """The body, once, in pieces of `chunk_size` bytes (the last may be shorter; None:
        as they arrive). Read to the end, the connection goes back to the pool."""
        if chunk_size is None:
            async for piece in self._pieces():
                yield piece
            return
        buffer = bytearray()
        async for piece in self._pieces():
            buffer += piece
            while len(buffer) >= chunk_size:
                yield bytes(buffer[:chunk_size])
                del buffer[:chunk_size]
        if buffer:
            yield bytes(buffer)

    async def _pieces(self) -> AsyncIterator[bytes]:
        if self._content is not None:
            if self._content:
                yield self._content
            return
        if self._consumed or self._source is None:
            raise RuntimeError("the response body was read or closed already")
        self._consumed = True
        source = self._source
        seen = 0
        try:
            async for chunk in source.chunks():
                if self._limit is not None:
                    limit, error = self._limit
                    seen += len(chunk)
                    if seen > limit:
                        self._drop()
                        if error is not None:
                            raise error
                        yield chunk[: len(chunk) - (seen - limit)]
                        return
                yield chunk
        except BaseException:
            self._drop()
            raise
        self._done = True
        source.release()

    def _drop(self) -> None:
        if not self._done and self._source is not None:
            self._done = True
            self._source.close()

    async def aread(self) -> bytes:
        """The whole body (kept: reading it again returns it again)."""
        if self._content is None:
            if self._limit is None and not self._consumed and self._source is not None:
                # All at once (a HEAD's empty body, a manifest): no chunk by chunk.
                self._consumed = True
                try:
                    content = await self._source.read()
                except BaseException:
                    self._drop()
                    raise
                self._done = True
                self._source.release()
                self._content = content
            else:
                self._content = b"".join([c async for c in self.aiter_bytes()])
        return self._content

    async def aclose(self) -> None:
        """Done with the response: an unread body drops its connection."""
        self._consumed = True
        self._drop()


class Sender(Protocol):
    """Sends a request and answers its response (body unread), or raises TransportError."""

    async def send(self, request: Request) -> Response: ...

    async def aclose(self) -> None: ...
