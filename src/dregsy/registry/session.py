"""The bottom of the registry client: requests sent by one `aiohttp.ClientSession`.

One `Session` per registry and role (`HttpPool` builds them). aiohttp's connector, C
parser and flow control do the HTTP; this module adds only dregsy's settings and words:

- the session is opened on first use (aiohttp needs the running loop), with a
  `TCPConnector` capped at `max_connections` (a request waits for a free connection), no
  cookies, no decompression, no redirects (`dregsy.registry.follow` has the one policy);
- HTTPS uses the registry's TLS context, made on the first HTTPS request; a registry with
  no certificates of its own uses aiohttp's default verifying context (the system's CAs,
  loaded once when aiohttp is imported: loading them again would cost tens of ms);
- a request goes through the proxy `ProxySettings` names for its URL, HTTPS as a CONNECT
  tunnel, so TLS is still checked against the registry;
- a body read to the end gives its connection back; a body closed unread, or a request
  cancelled, drops it (aiohttp's connector gives the slot back either way);
- aiohttp's errors become dregsy's `TransportError`s, with text that says what happened
  and never quotes a header value (aiohttp's may quote a proxy's credentials).
"""

from __future__ import annotations

import asyncio
import io
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import NoReturn

import aiohttp
from aiohttp.abc import AbstractResolver

from dregsy import __version__
from dregsy.errors import DregsyError
from dregsy.registry.http import (
    ConnectError,
    ConnectTimeout,
    LocalProtocolError,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    Response,
    TransportError,
    UnsupportedProtocol,
    WriteError,
)
from dregsy.registry.proxy import ProxySettings

USER_AGENT = f"dregsy/{__version__}"
KEEPALIVE = 30.0  # seconds an idle connection is kept
HAPPY_EYEBALLS = 0.25  # seconds before the next address (IPv6 then IPv4) is tried too
LARGE_BYTES = 1024 * 1024  # aiohttp warns of bytes bodies this large (they block the loop)


class Session:
    """Sends requests to any origin over at most `max_connections` connections."""

    def __init__(
        self,
        *,
        tls: Callable[[], ssl.SSLContext | bool],  # True: aiohttp's default verification
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        proxies: ProxySettings | None = None,
        resolver: AbstractResolver | None = None,  # tests: every name to a loopback server
    ) -> None:
        self._make_tls = tls
        self._tls: ssl.SSLContext | bool | None = None
        self._cap = max_connections
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._proxies = proxies or ProxySettings()
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._cap,
            limit_per_host=0,
            keepalive_timeout=KEEPALIVE,
            happy_eyeballs_delay=HAPPY_EYEBALLS,
            resolver=self._resolver,
        )
        return aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            timeout=self._timeout,
            headers={"User-Agent": USER_AGENT},
            skip_auto_headers=("Accept-Encoding",),
        )

    async def send(self, request: Request) -> Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise UnsupportedProtocol(f"{url.scheme or 'relative'}: URL: only http(s) is spoken")
        if self._session is None:
            self._session = self._open()
        tls: ssl.SSLContext | bool = True
        if url.scheme == "https":
            if self._tls is None:
                self._tls = self._make_tls()
            tls = self._tls
        source = _Upload(request.body)
        try:
            response = await self._session.request(
                request.method,
                url,
                headers=request.headers,
                data=source.data(),
                allow_redirects=False,
                proxy=self._proxies.proxy_for(url),
                ssl=tls,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:  # a certificate error is a ValueError
            if source.error is not None:
                raise source.error from None  # the body's own source failed: that is the news
            _fail(exc, started=False)
        except ValueError:
            # aiohttp's message may quote the offending header value: a credential, maybe.
            raise LocalProtocolError(
                "the request has a header, target or body length that HTTP/1.1 cannot carry"
            ) from None
        return Response(response.status, response.headers, request, _Download(response))

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class _Upload:
    """A request body for aiohttp; an error of a streamed body's own source (a download
    feeding an upload) is kept, to be raised as it is rather than as a failure to send."""

    def __init__(self, body: bytes | AsyncIterable[bytes] | None) -> None:
        self._body = body
        self.error: BaseException | None = None

    def data(self) -> bytes | io.BytesIO | AsyncIterator[bytes] | None:
        body = self._body
        if body is None or isinstance(body, bytes):
            if body is not None and len(body) >= LARGE_BYTES:
                return io.BytesIO(body)  # aiohttp writes large bytes in pieces from a file
            return body or None
        return self._chunks(body)

    async def _chunks(self, body: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        try:
            async for chunk in body:
                if chunk:
                    yield chunk
        except (DregsyError, TransportError, OSError) as exc:
            self.error = exc
            raise


class _Download:
    """A response body from aiohttp."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._response.close()
            _fail(exc, started=True)

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._response.close()
            _fail(exc, started=True)

    def release(self) -> None:
        self._response.release()

    def close(self) -> None:
        self._response.close()


def _fail(exc: BaseException, *, started: bool) -> NoReturn:
    """Raise `exc` as the TransportError that says the same thing."""
    kind: type[TransportError]
    text = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.InvalidURL):
        kind = LocalProtocolError
        text = "the URL cannot be sent (not a valid http(s) URL)"  # it may hold a signature
    elif isinstance(exc, aiohttp.ConnectionTimeoutError):
        kind = ConnectTimeout
    elif isinstance(exc, aiohttp.ServerTimeoutError | TimeoutError | asyncio.TimeoutError):
        kind = ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        kind = ConnectError
    elif isinstance(exc, aiohttp.ClientPayloadError):
        kind = RemoteProtocolError
        text = f"the server closed the connection before the end of the body ({text})"
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        kind = RemoteProtocolError
        text = (
            "the server closed the connection before the end of the body"
            if started
            else "the server closed the connection without a response"
        )
    elif isinstance(exc, aiohttp.ClientHttpProxyError):
        kind = ConnectError
        text = f"the proxy refused the tunnel (HTTP {exc.status})"
    elif isinstance(exc, aiohttp.ClientResponseError):
        kind = RemoteProtocolError
        text = f"the server's response is not HTTP/1.1 as we know it (HTTP {exc.status})"
    elif isinstance(exc, aiohttp.ClientOSError):
        # aiohttp's text names the connection's key, proxy credentials included: not shown.
        kind = ReadError if started else WriteError
        cause = exc.strerror or type(exc.__cause__ or exc).__name__
        text = f"the connection broke while {'reading' if started else 'sending'}: {cause}"
    else:
        kind = ReadError
    raise kind(text) from exc
