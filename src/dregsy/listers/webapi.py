"""JSON requests to web APIs that are not registries (Docker Hub, the Docker index)."""

from __future__ import annotations

from typing import Any

import httpx

from dregsy import jsontext
from dregsy.errors import RegistryError, RegistryUnreachableError
from dregsy.registry.client import NETWORK_ERRORS, describe_transport_error, read_capped
from dregsy.registry.errors import raise_for_status
from dregsy.registry.follow import send_following, where

MAX_BODY_BYTES = 8 * 1024 * 1024


async def request_json(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    json_body: object = None,
    auth: httpx.Auth | None = None,
) -> dict[str, Any]:
    """Send a request and return its JSON object; typed errors for every failure."""
    what = f"{method} {where(httpx.URL(url))}"
    request = http.build_request(
        method, url, headers={"Accept": "application/json", **(headers or {})}, json=json_body
    )
    origin = (request.url.scheme, request.url.netloc)
    try:
        response = await send_following(
            http,
            request,
            auth_for=lambda url: auth if (url.scheme, url.netloc) == origin else None,
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
    a, b = httpx.URL(url), httpx.URL(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)
