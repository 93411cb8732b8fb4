"""The registry auth flow: Basic or Bearer tokens, fetched for the scopes each request needs.

Requests carry the scopes they need (`Request.scopes`). Once a registry's challenge is
known (from the ping of `/v2/`), tokens are fetched before a request is sent, so streamed
uploads (which cannot be replayed) never meet a 401. A 401 anyway gets one fresh token and
one retry. Credentials go only to the registry and its token realm: the registry client
applies this flow only to requests for the registry's own scheme and host, so a 401 from a
redirect target (object storage, a CDN) is never answered.

A 401's body and a token response are read bounded, so neither can grow without end.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from yarl import URL

from dregsy.auth.challenge import Challenge, pick_challenge
from dregsy.auth.sources import CredentialSource, StaticSource
from dregsy.auth.token import MAX_TOKEN_RESPONSE_BYTES, Token, TokenCache, parse_token_response
from dregsy.credentials import Credentials
from dregsy.errors import AuthError
from dregsy.registry.http import Request, Response, Sender, headers_of

MAX_CHALLENGE_BODY = 64 * 1024  # bytes of a 401's body read before the retry; the rest is cut


def is_loopback_address(host: str | None) -> bool:
    """Whether `host` is a loopback IP address (not a name: names can resolve anywhere)."""
    try:
        return ipaddress.ip_address((host or "").strip("[]")).is_loopback
    except ValueError:
        return False


def basic_header(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


class BasicAuth:
    """HTTP Basic credentials on every request (web APIs that are not registries)."""

    def __init__(self, credentials: Credentials) -> None:
        self._header = basic_header(credentials)

    async def send(self, request: Request, http: Sender) -> Response:
        request.headers["Authorization"] = self._header
        return await http.send(request)


class RegistryAuth:
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

    def learn(self, response: Response) -> None:
        """Remember the challenge of a 401 (e.g. from the ping of `/v2/`)."""
        if response.status_code == 401:
            self._challenge = pick_challenge(response.headers.getall("www-authenticate", []))

    async def send(self, request: Request, http: Sender) -> Response:
        """Send `request` with the credentials it needs; a 401 is answered once."""
        scopes = request.scopes
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
                        token = await self._fetch_token(self._challenge, scopes, request, http)
            request.headers["Authorization"] = token.header
        elif self._challenge is not None and self._credentials is not None:
            request.headers["Authorization"] = basic_header(self._credentials)

        response = await http.send(request)
        if response.status_code != 401 or not request.replayable:
            return response
        challenge = pick_challenge(response.headers.getall("www-authenticate", []))
        if challenge is None:
            return response
        # Read (its first KiBs) before anything else goes out: the connection is free again.
        response.bound(MAX_CHALLENGE_BODY)
        await response.aread()
        self._challenge = challenge
        if challenge.scheme == "basic":
            sent = request.headers.get("Authorization")
            if sent is not None:
                self._source.invalidate()  # refused: perhaps expired, so ask again
            credentials = await self._current()
            if credentials is None or basic_header(credentials) == sent:
                return response  # nothing (new) to offer: let the 401 through
            request.headers["Authorization"] = basic_header(credentials)
        elif challenge.scheme == "bearer":
            if token is not None:
                self._tokens.discard(token)
            await self._current()
            wanted = tuple(dict.fromkeys(scopes + challenge.scopes))
            token = await self._fetch_token(challenge, wanted, request, http)
            request.headers["Authorization"] = token.header
        else:
            return response
        return await http.send(request)

    async def _fetch_token(
        self, challenge: Challenge, scopes: tuple[str, ...], request: Request, http: Sender
    ) -> Token:
        response = await http.send(self._token_request(challenge, scopes, request))
        try:
            return await self._read_token(response, scopes)
        finally:
            await response.aclose()

    def _token_request(
        self, challenge: Challenge, scopes: tuple[str, ...], request: Request
    ) -> Request:
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
        params: list[tuple[str, str]] = []
        if challenge.service:
            params.append(("service", challenge.service))
        params.extend(("scope", s) for s in scopes)
        headers = headers_of()
        if self._credentials is not None:
            params.append(("account", self._credentials.username))
            headers["Authorization"] = basic_header(self._credentials)
        url = URL(realm)
        return Request("GET", url.with_query(list(url.query.items()) + params), headers)

    async def _read_token(self, response: Response, scopes: tuple[str, ...]) -> Token:
        # Read whole, bounded whether or not a length was declared.
        too_large = AuthError("token service response is larger than 64 KiB")
        length = response.headers.get("content-length", "0")
        if length.isdigit() and int(length) > MAX_TOKEN_RESPONSE_BYTES:
            raise too_large
        response.bound(MAX_TOKEN_RESPONSE_BYTES, too_large)
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
