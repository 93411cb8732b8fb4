"""Raw-HTTP manifest checks against a registry, independent of the product's client.

Requests send the full ``Accept`` list (OCI manifest and index, Docker v2 manifest and
manifest list): distribution 2.8 answers 404 for an OCI manifest requested by tag
without the OCI types. :class:`ChallengeAuth` answers Basic and Bearer challenges with
fixed credentials, fetching a fresh token from the realm for every challenge.
"""

from __future__ import annotations

import base64
import re
import ssl
from collections.abc import Generator
from dataclasses import dataclass

import httpx

MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_ACCEPT = ", ".join(MANIFEST_MEDIA_TYPES)

_PARAM = re.compile(r'(\w+)="([^"]*)"')

Creds = tuple[str, str]
Verify = ssl.SSLContext | bool


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """Split ``Bearer realm="...",service="..."`` into ``("bearer", {params})``."""
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))


def _basic(creds: Creds) -> str:
    return "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()


class ChallengeAuth(httpx.Auth):
    """httpx auth answering a registry's 401 challenge (Basic or Bearer) once per request.

    With *creds* None, Bearer tokens are fetched anonymously and Basic challenges are
    left unanswered. A failed token request raises :class:`httpx.HTTPStatusError`.
    """

    requires_response_body = True

    def __init__(self, creds: Creds | None = None) -> None:
        self.creds = creds

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send *request*; on 401 answer the challenge and send it again."""
        response = yield request
        if response.status_code != 401:
            return
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "basic" and self.creds is not None:
            request.headers["Authorization"] = _basic(self.creds)
            yield request
        elif scheme == "bearer" and "realm" in params:
            query = {k: v for k, v in params.items() if k in ("service", "scope")}
            headers = {"Authorization": _basic(self.creds)} if self.creds else {}
            token_response = yield httpx.Request(
                "GET", params["realm"], params=query, headers=headers
            )
            token_response.raise_for_status()
            body = token_response.json()
            token = body.get("token") or body.get("access_token")
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


@dataclass(frozen=True)
class ManifestResponse:
    """A manifest as served: body, ``Content-Type`` and ``Docker-Content-Digest``."""

    content: bytes
    media_type: str
    digest: str


def _manifest_request(
    method: str,
    base_url: str,
    repo: str,
    ref: str,
    *,
    auth: Creds | None,
    verify: Verify,
) -> httpx.Response | None:
    with httpx.Client(
        base_url=base_url, auth=ChallengeAuth(auth), verify=verify, timeout=10.0
    ) as client:
        response = client.request(
            method, f"/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST_ACCEPT}
        )
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response


def http_manifest_digest(
    base_url: str,
    repo: str,
    ref: str,
    *,
    auth: Creds | None = None,
    verify: Verify = True,
) -> str | None:
    """``Docker-Content-Digest`` of ``HEAD /v2/<repo>/manifests/<ref>``; None on 404.

    Other errors (e.g. 401 without valid credentials) raise
    :class:`httpx.HTTPStatusError`.
    """
    response = _manifest_request("HEAD", base_url, repo, ref, auth=auth, verify=verify)
    return None if response is None else response.headers["Docker-Content-Digest"]


def http_get_manifest(
    base_url: str,
    repo: str,
    ref: str,
    *,
    auth: Creds | None = None,
    verify: Verify = True,
) -> ManifestResponse | None:
    """``GET /v2/<repo>/manifests/<ref>`` with body, type and digest; None on 404."""
    response = _manifest_request("GET", base_url, repo, ref, auth=auth, verify=verify)
    if response is None:
        return None
    return ManifestResponse(
        content=response.content,
        media_type=response.headers.get("Content-Type", ""),
        digest=response.headers["Docker-Content-Digest"],
    )
