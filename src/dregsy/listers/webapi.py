"""JSON requests to web APIs that are not registries (Docker Hub, the Docker index)."""

from __future__ import annotations

import json
from typing import Any

from yarl import URL

from dregsy import jsontext
from dregsy.errors import RegistryError, RegistryUnreachableError
from dregsy.registry.client import NETWORK_ERRORS, describe_transport_error, read_capped
from dregsy.registry.errors import raise_for_status
from dregsy.registry.follow import Authenticator, send_following, where
from dregsy.registry.http import Request, Sender, headers_of, origin

MAX_BODY_BYTES = 8 * 1024 * 1024


async def request_json(
    http: Sender,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json_body: object = None,
    auth: Authenticator | None = None,
) -> dict[str, Any]:
    """Send a request and return its JSON object; typed errors for every failure."""
    try:
        target = URL(url)
    except ValueError as exc:
        raise RegistryError(f"{method}: invalid URL: {exc}") from None
    what = f"{method} {where(target)}"
    sent = headers_of({"Accept": "application/json", **(headers or {})}.items())
    body = None
    if json_body is not None:
        body = json.dumps(json_body).encode()
        sent["Content-Type"] = "application/json"
    request = Request(method, target, sent, body)
    home = origin(target)
    try:
        response = await send_following(
            http, request, auth_for=lambda url: auth if origin(url) == home else None
        )
    except NETWORK_ERRORS as exc:
        raise RegistryUnreachableError(f"{what}: {describe_transport_error(exc)}") from exc
    try:
        await raise_for_status(response)
        body = await read_capped(response, MAX_BODY_BYTES, f"{what}: response")
    except NETWORK_ERRORS as exc:
        raise RegistryUnreachableError(f"{what}: {describe_transport_error(exc)}") from exc
    finally:
        await response.aclose()
    try:
        document = jsontext.loads(body)
    except jsontext.JSONError as exc:
        raise RegistryError(f"{what}: response is not JSON") from exc
    if not isinstance(document, dict):
        raise RegistryError(f"{what}: response is not a JSON object")
    return document


def same_origin(url: str, base: str) -> bool:
    """Whether `url` is on the scheme and host of `base` (credentials may go there)."""
    try:
        return origin(URL(url)) == origin(URL(base))
    except ValueError:
        return False
