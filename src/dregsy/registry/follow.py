"""Redirects, followed here rather than by httpx, in one place and by one policy.

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

import httpx

from dregsy.errors import RegistryError

MAX_REDIRECTS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})
SCHEMES = ("http", "https")
_NOT_CARRIED = frozenset({"host", "authorization", "cookie", "proxy-authorization"})
_BODY_HEADERS = frozenset({"content-length", "content-type", "transfer-encoding"})


class RedirectError(RegistryError):
    """A redirect that is not followed: too many, to a scheme other than http(s), or of a
    body that cannot be sent again."""


def where(url: httpx.URL) -> str:
    """The URL for messages: without its query (which may carry a signature) and without
    user information (which may carry a password)."""
    return str(url.copy_with(query=None, fragment=None, userinfo=b""))


def check_scheme(method: str, url: httpx.URL) -> None:
    if url.scheme not in SCHEMES:
        shown = url.scheme or "relative"
        raise RedirectError(f"{method} {shown}: URL refused: only http and https are spoken")


async def send_following(
    http: httpx.AsyncClient,
    request: httpx.Request,
    *,
    auth_for: Callable[[httpx.URL], httpx.Auth | None],
) -> httpx.Response:
    """Send `request` (streamed), following redirects by the policy above."""
    check_scheme(request.method, request.url)
    headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _NOT_CARRIED]
    for _ in range(MAX_REDIRECTS + 1):
        response = await http.send(
            request, auth=auth_for(request.url), stream=True, follow_redirects=False
        )
        location = response.headers.get("location")
        if response.status_code not in REDIRECTS or location is None:
            return response
        await response.aclose()  # never read
        try:
            url = request.url.join(location)
        except httpx.InvalidURL as exc:
            raise RedirectError(
                f"{request.method} {where(request.url)}: HTTP {response.status_code} to an "
                f"invalid Location: {exc}"
            ) from None
        if url.scheme not in SCHEMES:
            raise RedirectError(
                f"{request.method} {where(request.url)}: HTTP {response.status_code} to a "
                f"{url.scheme or 'relative'}: URL refused: only http and https are followed"
            )
        request = _next(http, request, response.status_code, url, headers)
    raise RedirectError(
        f"{request.method} {where(request.url)}: more than {MAX_REDIRECTS} redirects"
    )


def _next(
    http: httpx.AsyncClient,
    request: httpx.Request,
    status: int,
    url: httpx.URL,
    headers: list[tuple[str, str]],
) -> httpx.Request:
    method = request.method
    if (status == 303 and method != "HEAD") or (
        status in (301, 302) and method not in ("GET", "HEAD")
    ):
        method = "GET"
    content: bytes | None = None
    if method == request.method and method not in ("GET", "HEAD"):
        if not isinstance(request.stream, httpx.ByteStream):
            raise RedirectError(
                f"{request.method} {where(request.url)}: HTTP {status} asks to send a streamed "
                "body again, which cannot be done"
            )
        content = request.read()
    else:
        headers = [(k, v) for k, v in headers if k.lower() not in _BODY_HEADERS]
    return http.build_request(
        method, url, headers=headers, content=content, extensions=dict(request.extensions)
    )
