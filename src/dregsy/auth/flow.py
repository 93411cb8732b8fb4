"""The registry auth flow: Basic or Bearer tokens, fetched for the scopes each request needs.

Requests carry the scopes they need in `request.extensions[SCOPES]`. Once a registry's
challenge is known (from the ping of `/v2/`), tokens are fetched before a request is sent,
so streamed uploads (which cannot be replayed) never meet a 401. A 401 anyway gets one fresh
token and one retry. Credentials go only to the registry and its token realm: the registry
client applies this flow only to requests for the registry's own scheme and host, so a 401
from a redirect target (object storage, a CDN) is never answered.

httpx reads a response whole before the flow's next request goes out (the 401 before its
retry, the token response): both bodies are bounded first, so neither can grow without end.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from urllib.parse import urlsplit

import httpx

from dregsy.auth.challenge import Challenge, pick_challenge
from dregsy.auth.sources import CredentialSource, StaticSource
from dregsy.auth.token import MAX_TOKEN_RESPONSE_BYTES, Token, TokenCache, parse_token_response
from dregsy.credentials import Credentials
from dregsy.errors import AuthError

SCOPES = "dregsy.scopes"
MAX_CHALLENGE_BODY = 64 * 1024  # bytes of a 401's body read before the retry; the rest is cut


class _Bounded(httpx.AsyncByteStream):
    """A response body cut at `limit` bytes: past it, `error` is raised (or, without one,
    the body simply ends there and its connection is closed)."""

    def __init__(
        self, inner: httpx.AsyncByteStream, limit: int, error: Exception | None = None
    ) -> None:
        self._inner = inner
        self._limit = limit
        self._error = error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._limit:
                await self._inner.aclose()
                if self._error is not None:
                    raise self._error
                yield chunk[: len(chunk) - (seen - self._limit)]
                return
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def bound_body(response: httpx.Response, limit: int, error: Exception | None = None) -> None:
    """Make every later read of `response` (httpx's own `aread` included) stop at `limit`."""
    if isinstance(response.stream, httpx.AsyncByteStream):
        response.stream = _Bounded(response.stream, limit, error)


def is_loopback_address(host: str | None) -> bool:
    """Whether `host` is a loopback IP address (not a name: names can resolve anywhere)."""
    try:
        return ipaddress.ip_address((host or "").strip("[]")).is_loopback
    except ValueError:
        return False


def basic_header(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def is_replayable(request: httpx.Request) -> bool:
    """Whether the request body can be sent again (bytes, not a one-shot stream)."""
    return isinstance(request.stream, httpx.ByteStream)


class RegistryAuth(httpx.Auth):
    """Authentication for one registry with the credentials of one source (or anonymous).

    The source is asked for credentials whenever a request needs them; when they differ
    from the last ones (refreshed ECR or Google credentials), cached tokens are dropped. A
    Basic 401 despite credentials asks the source for new ones and tries once more.
    """

    def __init__(
        self,
        source: CredentialSource | Credentials | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if source is None or isinstance(source, Credentials):
            source = StaticSource(source)
        self._source = source
        self._credentials: Credentials | None = None
        self._clock = clock
        self._challenge: Challenge | None = None
        self._tokens = TokenCache()
        self._locks: dict[frozenset[str], asyncio.Lock] = {}

    async def _current(self) -> Credentials | None:
        """The source's credentials now; a change of identity drops the cached tokens."""
        credentials = await self._source.get()
        if credentials != self._credentials:
            self._tokens = TokenCache()
            self._credentials = credentials
        return credentials

    def learn(self, response: httpx.Response) -> None:
        """Remember the challenge of a 401 (e.g. from the ping of `/v2/`)."""
        if response.status_code == 401:
            self._challenge = pick_challenge(response.headers.get_list("www-authenticate"))

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        scopes: tuple[str, ...] = tuple(request.extensions.get(SCOPES, ()))
        token: Token | None = None
        if self._challenge is not None:
            await self._current()
        if self._challenge is not None and self._challenge.scheme == "bearer":
            token = self._tokens.find(scopes, self._clock())
            if token is None:
                key = frozenset(scopes)
                async with self._locks.setdefault(key, asyncio.Lock()):
                    token = self._tokens.find(scopes, self._clock())
                    if token is None:
                        response = yield self._token_request(self._challenge, scopes, request)
                        token = await self._read_token(response, scopes)
            request.headers["Authorization"] = token.header
        elif self._challenge is not None and self._credentials is not None:
            request.headers["Authorization"] = basic_header(self._credentials)

        response = yield request
        if response.status_code != 401 or not is_replayable(request):
            return
        # httpx reads the 401 whole before the flow's next request (a token request or the
        # retry) goes out: only its first KiBs are worth it.
        bound_body(response, MAX_CHALLENGE_BODY)
        challenge = pick_challenge(response.headers.get_list("www-authenticate"))
        if challenge is None:
            return
        self._challenge = challenge
        if challenge.scheme == "basic":
            sent = request.headers.get("Authorization")
            if sent is not None:
                self._source.invalidate()  # refused: perhaps expired, so ask again
            credentials = await self._current()
            if credentials is None or basic_header(credentials) == sent:
                return  # nothing (new) to offer: let the 401 through
            request.headers["Authorization"] = basic_header(credentials)
        elif challenge.scheme == "bearer":
            if token is not None:
                self._tokens.discard(token)
            await self._current()
            wanted = tuple(dict.fromkeys(scopes + challenge.scopes))
            token_response = yield self._token_request(challenge, wanted, request)
            token = await self._read_token(token_response, wanted)
            request.headers["Authorization"] = token.header
        else:
            return
        yield request

    def _token_request(
        self, challenge: Challenge, scopes: tuple[str, ...], request: httpx.Request
    ) -> httpx.Request:
        realm = challenge.realm
        if not realm or urlsplit(realm).scheme not in ("http", "https"):
            raise AuthError(f"registry sent a bearer challenge without a usable realm: {realm!r}")
        if (
            self._credentials is not None
            and request.url.scheme == "https"
            and urlsplit(realm).scheme == "http"
            and not is_loopback_address(urlsplit(realm).hostname)
        ):
            raise AuthError(
                f"{request.url.host} (HTTPS) names a plain-HTTP token service "
                f"({urlsplit(realm).netloc}): credentials are not sent over plain HTTP"
            )
        params: list[tuple[str, str | int | float | bool | None]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        params.extend(("scope", s) for s in scopes)
        headers = {}
        if self._credentials is not None:
            params.append(("account", self._credentials.username))
            headers["Authorization"] = basic_header(self._credentials)
        return httpx.Request("GET", realm, params=params, headers=headers)

    async def _read_token(self, response: httpx.Response, scopes: tuple[str, ...]) -> Token:
        # httpx reads this response again after the flow resumes, so read it whole (aread
        # caches), bounded whether or not a length was declared.
        too_large = AuthError("token service response is larger than 64 KiB")
        length = response.headers.get("content-length", "0")
        if length.isdigit() and int(length) > MAX_TOKEN_RESPONSE_BYTES:
            raise too_large
        bound_body(response, MAX_TOKEN_RESPONSE_BYTES, too_large)
        body = await response.aread()
        realm_host = response.request.url.host
        if response.status_code in (401, 403):
            if response.status_code == 401:
                self._source.invalidate()  # the next request asks the source again
            who = (
                "anonymous access"
                if self._credentials is None
                else f"the credentials ({self._source.label})"
            )
            raise AuthError(
                f"token service at {realm_host} refused {who} "
                f"(HTTP {response.status_code}) for {' '.join(scopes) or 'the registry'}"
            )
        if response.status_code != 200:
            raise AuthError(f"token service at {realm_host} answered HTTP {response.status_code}")
        token = parse_token_response(body, scopes=scopes, now=self._clock())
        self._tokens.add(token)
        return token
