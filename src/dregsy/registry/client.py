"""The registry client: one registry, one identity, one role (pull, or pull and push).

It finds the registry's scheme and auth challenge with one ping of `/v2/`, then sends
requests with the token scopes they need. Loopback registries without an explicit scheme
are tried over HTTPS first and plain HTTP second, as Docker does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from contextlib import asynccontextmanager

from yarl import URL

from dregsy.auth.flow import RegistryAuth
from dregsy.errors import BodyBrokeOffError, RegistryUnreachableError, SizeLimitExceededError
from dregsy.reference import Registry
from dregsy.registry.follow import Authenticator, RedirectError, send_following, where
from dregsy.registry.http import Request, Response, Sender, TransportError, headers_of, origin
from dregsy.registry.quota import PullQuota

log = logging.getLogger(__name__)

# With TLS 1.3 a refused client certificate arrives as an alert on the first read, which
# may come through as a bare ssl.SSLError rather than a transport error.
NETWORK_ERRORS = (TransportError, ssl.SSLError)

DRAIN_LIMIT = 64 * 1024  # bytes of an unread body worth reading to keep the connection
PING_FAILURE_TTL = 10.0  # seconds a failed ping answers for the registry

PULL = ("pull",)
PULL_PUSH = ("pull", "push")


class RegistryClient:
    """Sends Distribution API requests to one registry as one identity."""

    def __init__(
        self,
        registry: Registry,
        http: Sender,
        auth: RegistryAuth,
        *,
        actions: tuple[str, ...] = PULL,
        pull_quota: PullQuota | None = None,
    ) -> None:
        self.registry = registry
        self.actions = actions
        self.pull_quota = pull_quota  # a source's `ratelimit`: manifest GETs check it first
        self._http = http
        self._auth = auth
        self._base: str | None = None
        self._base_origin = ("", "")  # scheme and host[:port] of `_base`, parsed once
        self._ping_lock = asyncio.Lock()
        self._ping_failure: tuple[float, RegistryUnreachableError] | None = None

    async def base_url(self) -> str:
        """`scheme://host[:port]`, found by pinging `/v2/` once.

        A failed ping is remembered for a few seconds, so the images waiting on an
        unreachable registry fail together instead of each retrying in turn.
        """
        if self._base is None:
            async with self._ping_lock:
                failed = self._ping_failure
                if failed is not None and time.monotonic() - failed[0] < PING_FAILURE_TTL:
                    raise failed[1]
                if self._base is None:
                    try:
                        base = await self._ping()
                        self._base_origin = origin(URL(base))
                        self._base = base
                    except RegistryUnreachableError as exc:
                        self._ping_failure = (time.monotonic(), exc)
                        raise
        return self._base

    async def _ping(self) -> str:
        registry = self.registry
        if registry.scheme is not None:
            schemes = [registry.scheme]
        else:
            # Loopback registries may speak plain HTTP, as Docker allows. Plain HTTP is asked
            # first: a TLS port answers it with 400 (or drops it), and HTTPS follows; the
            # probe carries no credentials, and a plain registry then needs no TLS set-up.
            schemes = ["http", "https"] if registry.is_loopback else ["https"]
        error: Exception | None = None
        for scheme in schemes:
            base = f"{scheme}://{registry.api_host}"
            probe = scheme != schemes[-1]
            try:
                # Only a small body is read (a redirect is not followed: its status says the
                # registry is there).
                request = Request("GET", URL(f"{base}/v2/", encoded=True), retry=not probe)
                response = await self._http.send(request)
                try:
                    if probe and response.status_code == 400:
                        continue  # "Client sent an HTTP request to an HTTPS server."
                    self._auth.learn(response)
                    await drain(response)
                finally:
                    await response.aclose()
            except NETWORK_ERRORS as exc:
                error = exc
                continue
            return base
        raise RegistryUnreachableError(f"cannot reach registry {registry}: {error}")

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path_or_url: str,
        *,
        scopes: tuple[str, ...],
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        content: bytes | AsyncIterable[bytes] | None = None,
    ) -> AsyncIterator[Response]:
        """Send a request; the response body is read (or not) inside the block, then closed.

        A path is on the registry (its characters are sent as they are); a whole URL (an
        upload location, a `Link`) is sent as the registry wrote it."""
        base = await self.base_url()
        try:
            url = URL(
                base + path_or_url if path_or_url.startswith("/") else path_or_url, encoded=True
            )
            if params:
                url = url.extend_query(params)
        except (ValueError, TypeError) as exc:
            raise RedirectError(f"{method}: invalid URL from the registry: {exc}") from None
        request = Request(
            method, url, headers_of(headers.items() if headers else None), content, scopes
        )
        try:
            response = await send_following(self._http, request, auth_for=self._auth_for)
        except NETWORK_ERRORS as exc:
            raise RegistryUnreachableError(
                f"{method} {where(request.url)}: {describe_transport_error(exc)}"
            ) from exc
        try:
            yield response
            await drain(response)
        except NETWORK_ERRORS as exc:  # the body broke off (or would not come)
            raise RegistryUnreachableError(
                f"{method} {where(response.request.url)}: {describe_transport_error(exc)}"
            ) from exc
        finally:
            await response.aclose()

    def _auth_for(self, url: URL) -> Authenticator | None:
        """The registry's credentials (and its 401 handling) for its own scheme, host and
        port only: never for another host (an upload URL or a redirect to object storage)."""
        return self._auth if origin(url) == self._base_origin else None

    def scope_for(self, repository_path: str) -> str:
        return f"repository:{repository_path}:{','.join(self.actions)}"


async def read_capped(response: Response, limit: int, what: str) -> bytes:
    """The whole body; SizeLimitExceededError ("<what> is larger than N MiB") past `limit`,
    BodyBrokeOffError when it breaks off."""
    body = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > limit:
                raise SizeLimitExceededError(f"{what} is larger than {limit // (1024 * 1024)} MiB")
    except NETWORK_ERRORS as exc:
        raise BodyBrokeOffError(f"{what}: {describe_transport_error(exc)}") from exc
    return bytes(body)


async def drain(response: Response) -> None:
    """Read what is left of a small body, so the connection goes back to the pool.

    A connection is kept only once its response was read to the end, which includes HEAD
    responses and empty 201/202 answers that nobody iterates; closing them unread would cost
    a new TCP connection per request. Large unread bodies are not worth it.
    """
    if response.is_stream_consumed:
        return
    length = response.headers.get("content-length")
    if response.request.method == "HEAD" or (
        length is not None and length.isdigit() and int(length) <= DRAIN_LIMIT
    ):
        with contextlib.suppress(*NETWORK_ERRORS):
            await response.aread()


def describe_transport_error(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:300] + "…"
