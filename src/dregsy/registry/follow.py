"""Redirects, followed here rather than by the HTTP library, in one place and by one policy.

- at most `MAX_REDIRECTS` hops; `http` and `https` only (a `Location` of `file:`, `ftp:` or
  `gopher:` is refused, as is a request to such a URL in the first place);
- the body of a redirect response is never read: the response is closed unread;
- credentials go only to the registry's own scheme, host and port: the caller decides per
  hop (`auth_for`), and a 401 from anywhere else is an answer, not a question;
- 303 (and 301/302 after anything but GET or HEAD) turns into a GET without a body; 307
  and 308 keep method and body, which a streamed upload cannot send twice: that is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from yarl import URL

from dregsy.errors import RegistryError
from dregsy.registry.http import Request, Response, Sender, headers_of

MAX_REDIRECTS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})
SCHEMES = ("http", "https")
_NOT_CARRIED = frozenset({"host", "authorization", "cookie", "proxy-authorization"})
_BODY_HEADERS = frozenset({"content-length", "content-type", "transfer-encoding"})


class RedirectError(RegistryError):
    """A redirect that is not followed: too many, to a scheme other than http(s), or of a
    body that cannot be sent again."""


class Authenticator(Protocol):
    """Sends a request with credentials (and answers the registry's 401 itself)."""

    async def send(self, request: Request, http: Sender) -> Response: ...


def where(url: URL) -> str:
    """The URL for messages: without its query (which may carry a signature) and without
    user information (which may carry a password)."""
    return str(url.with_query(None).with_fragment(None).with_user(None))


def check_scheme(method: str, url: URL) -> None:
    if url.scheme not in SCHEMES:
        shown = url.scheme or "relative"
        raise RedirectError(f"{method} {shown}: URL refused: only http and https are spoken")


async def send_following(
    http: Sender,
    request: Request,
    *,
    auth_for: Callable[[URL], Authenticator | None],
) -> Response:
    """Send `request` (body unread), following redirects by the policy above."""
    check_scheme(request.method, request.url)
    headers: list[tuple[str, str]] | None = None  # carried to the next hop (made on the first)
    for _ in range(MAX_REDIRECTS + 1):
        auth = auth_for(request.url)
        response = await (http.send(request) if auth is None else auth.send(request, http))
        location = response.headers.get("location")
        if response.status_code not in REDIRECTS or location is None:
            return response
        await response.aclose()  # never read
        try:
            url = request.url.join(URL(location, encoded=True))
        except ValueError as exc:
            raise RedirectError(
                f"{request.method} {where(request.url)}: HTTP {response.status_code} to an "
                f"invalid Location: {exc}"
            ) from None
        if url.scheme not in SCHEMES:
            raise RedirectError(
                f"{request.method} {where(request.url)}: HTTP {response.status_code} to a "
                f"{url.scheme or 'relative'}: URL refused: only http and https are followed"
            )
        if headers is None:
            headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_CARRIED]
        request = _next(request, response.status_code, url, headers)
    raise RedirectError(
        f"{request.method} {where(request.url)}: more than {MAX_REDIRECTS} redirects"
    )


def _next(request: Request, status: int, url: URL, headers: list[tuple[str, str]]) -> Request:
    method = request.method
    if (status == 303 and method != "HEAD") or (
        status in (301, 302) and method not in ("GET", "HEAD")
    ):
        method = "GET"
    body: bytes | None = None
    if method == request.method and method not in ("GET", "HEAD"):
        if not isinstance(request.body, bytes | None):
            raise RedirectError(
                f"{request.method} {where(request.url)}: HTTP {status} asks to send a streamed "
                "body again, which cannot be done"
            )
        body = request.body
    else:
        headers = [(k, v) for k, v in headers if k.lower() not in _BODY_HEADERS]
    return Request(
        method,
        url,
        headers_of(headers),
        body=body,
        scopes=request.scopes,
        retry=request.retry,
    )
