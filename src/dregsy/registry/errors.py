"""Turning registry error responses into dregsy's typed errors, in one place."""

from __future__ import annotations

from dregsy import jsontext
from dregsy.errors import (
    DeniedError,
    NotFoundError,
    RateLimitedError,
    RegistryHTTPError,
    UnauthorizedError,
)
from dregsy.registry.follow import where
from dregsy.registry.http import Response

MAX_ERROR_BODY_BYTES = 64 * 1024

_BY_STATUS: dict[int, type[RegistryHTTPError]] = {
    401: UnauthorizedError,
    403: DeniedError,
    404: NotFoundError,
    429: RateLimitedError,
}


async def raise_for_status(response: Response, *, ok: tuple[int, ...] = ()) -> None:
    """Raise the matching RegistryHTTPError unless the status is 2xx or listed in `ok`."""
    status = response.status_code
    if 200 <= status < 300 or status in ok:
        return
    body = b""
    if response.request.method != "HEAD":
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) >= MAX_ERROR_BODY_BYTES:
                break
    await response.aclose()
    detail, codes = describe_error_body(body)
    if not detail and response.request.method == "HEAD":
        detail = "(HEAD responses carry no error detail)"
    url = where(response.request.url)
    cls = _BY_STATUS.get(status, RegistryHTTPError)
    raise cls(status, response.request.method, url, detail, codes)


def describe_error_body(body: bytes) -> tuple[str, tuple[str, ...]]:
    """The distribution spec's `{"errors": [{"code", "message"}]}` as text and codes."""
    if not body:
        return "", ()
    try:
        doc = jsontext.loads(body)
    except jsontext.JSONError:
        text = body[:200].decode("utf-8", "replace").strip()
        return " ".join(text.split()), ()
    errors = doc.get("errors") if isinstance(doc, dict) else None
    if not isinstance(errors, list):
        return "", ()
    parts: list[str] = []
    codes: list[str] = []
    for err in errors:
        if not isinstance(err, dict):
            continue
        code = str(err.get("code", "")).strip()
        message = str(err.get("message", "")).strip()
        codes.append(code)
        parts.append(f"{code.lower()}: {message}" if code and message else code or message)
    return "; ".join(p for p in parts if p), tuple(codes)
