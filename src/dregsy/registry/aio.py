"""httpx requests sent by aiohttp: its connector, C parser and flow control do the HTTP.

dregsy's layers (auth flow, retries, traffic counts, the redirect policy) stay httpx
transports and auth flows; at the bottom, this transport hands each request to one
`aiohttp.ClientSession` (per registry and role, as `HttpPool` builds them) and gives the
response back as an httpx response whose body streams from aiohttp's. What it adds is
only the translation:

- the session is opened on first use (aiohttp needs the running loop), with a
  `TCPConnector` capped at `max_connections`, the registry's TLS context, and no cookies,
  no decompression and no redirects (`dregsy.registry.follow` has the one policy);
- a body not read to the end closes its connection (aiohttp pools only finished ones),
  and a cancelled request gives its connection slot back (aiohttp's connector does both);
- aiohttp's errors become the httpx errors the layers above expect (`TransportError`s),
  with text that says what happened and never quotes a header value.
"""

from __future__ import annotations

import asyncio
import io
import ssl
from collections.abc import AsyncIterator
from typing import NoReturn

import aiohttp
import httpx
from yarl import URL

from dregsy.errors import DregsyError

KEEPALIVE = 30.0  # seconds an idle connection is kept
HAPPY_EYEBALLS = 0.25  # seconds before the next address (IPv6 then IPv4) is tried too
LARGE_BYTES = 1024 * 1024  # aiohttp warns of bytes bodies this large (they block the loop)
_DROPPED = frozenset({"transfer-encoding", "host"})  # aiohttp sets them itself


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Plain HTTP, or TLS with the context `tls`, to any origin, directly or through
    `proxy`; at most `max_connections` connections open at once (a request waits for one)."""

    def __init__(
        self, *, tls: ssl.SSLContext | None, max_connections: int, proxy: str | None = None
    ) -> None:
        self._tls = tls
        self._cap = max_connections
        self._proxy = proxy  # an http(s) proxy URL; HTTPS goes through it as a CONNECT tunnel
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._cap,
            limit_per_host=0,
            ssl=self._tls if self._tls is not None else False,
            keepalive_timeout=KEEPALIVE,
            happy_eyeballs_delay=HAPPY_EYEBALLS,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None),
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https" and self._tls is None:
            raise httpx.UnsupportedProtocol("this transport speaks plain HTTP", request=request)
        if self._session is None:
            self._session = self._open()
        timeouts = request.extensions.get("timeout", {})
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in request.headers.raw
            if k.lower().decode("latin-1") not in _DROPPED
        ]
        data: bytes | io.BytesIO | AsyncIterator[bytes] | None
        source = _Source(request)
        if isinstance(request.stream, httpx.ByteStream):
            data = request.content or None
            if data is not None and len(data) >= LARGE_BYTES:
                data = io.BytesIO(data)  # aiohttp writes large bytes in pieces from a file
        else:
            data = source.chunks()
        try:
            response = await self._session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=headers,
                data=data,
                allow_redirects=False,
                proxy=self._proxy,
                timeout=aiohttp.ClientTimeout(
                    total=None,
                    sock_connect=timeouts.get("connect"),
                    sock_read=timeouts.get("read"),
                ),
            )
        except (aiohttp.ClientError, TimeoutError) as exc:  # a certificate error is a ValueError
            if source.error is not None:
                raise source.error from None  # the body's own source failed: that is the news
            _fail(exc, request, started=False)
        except ValueError:
            # aiohttp's message may quote the offending header value: a credential, maybe.
            raise httpx.LocalProtocolError(
                "the request has a header, target or body length that HTTP/1.1 cannot carry",
                request=request,
            ) from None
        return httpx.Response(
            response.status,
            headers=list(response.raw_headers),  # bytes pairs: httpx takes them as they are
            stream=_Body(response, request),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": (response.reason or "").encode("ascii", "replace"),
            },
        )

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class _Source:
    """A streamed request body; an error of its own source is kept to be raised as it is
    (aiohttp would report it as a failure to send)."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        self.error: BaseException | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._request.stream:  # type: ignore[union-attr]
                if chunk:
                    yield chunk
        except (DregsyError, httpx.HTTPError, OSError) as exc:  # a download feeding an upload
            self.error = exc
            raise


class _Body(httpx.AsyncByteStream):
    """A response body from aiohttp; its connection goes back once read to the end."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._response.close()
            _fail(exc, self._request, started=True)
        except BaseException:
            self._response.close()
            raise
        self._response.release()

    async def aclose(self) -> None:
        # Unread bodies close their connection: aiohttp keeps only finished ones.
        self._response.release()


def _fail(exc: BaseException, request: httpx.Request, *, started: bool) -> NoReturn:
    """Raise `exc` as the httpx error that says the same thing."""
    kind: type[httpx.TransportError]
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind = httpx.ConnectTimeout
    elif isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError | asyncio.TimeoutError):
        kind = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        kind = httpx.ConnectError
    elif isinstance(exc, aiohttp.ClientPayloadError):
        kind = httpx.RemoteProtocolError
        text = f"the server closed the connection before the end of the body ({text})"
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        kind = httpx.RemoteProtocolError
        text = (
            "the server closed the connection before the end of the body"
            if started
            else "the server closed the connection without a response"
        )
    elif isinstance(exc, aiohttp.ClientResponseError):
        kind = httpx.RemoteProtocolError
        text = f"the server's response is not HTTP/1.1 as we know it (HTTP {exc.status})"
    elif isinstance(exc, aiohttp.ClientOSError):
        # aiohttp's text names the connection's key, proxy credentials included: not shown.
        kind = httpx.ReadError if started else httpx.WriteError
        cause = exc.strerror or type(exc.__cause__ or exc).__name__
        text = f"the connection broke while {'reading' if started else 'sending'}: {cause}"
    else:
        kind = httpx.ReadError
    raise kind(text, request=request) from exc
