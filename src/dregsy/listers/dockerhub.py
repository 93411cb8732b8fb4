"""The Docker Hub lister: the repositories of the `auth` user, private ones included.

It logs in with `POST /v2/users/login` (username and password or access token) for a JWT,
then pages through `GET /v2/repositories/<user>/?page_size=100` following `next`. Only
repositories of type `image` (or of no stated type) are listed, as `namespace/name`.
"""

from __future__ import annotations

from urllib.parse import quote

from dregsy.credentials import Credentials
from dregsy.errors import AuthError, RegistryError, UnauthorizedError
from dregsy.listers.base import DOCKER_HUB_API
from dregsy.listers.webapi import request_json, same_origin
from dregsy.registry.http import Sender

PAGE_SIZE = 100
MAX_PAGES = 1000


class DockerHubLister:
    """Lists a Docker Hub user's repositories through the Hub's web API."""

    def __init__(
        self, http: Sender, credentials: Credentials, *, base_url: str = DOCKER_HUB_API
    ) -> None:
        self._http = http
        self._credentials = credentials
        self._base = base_url.rstrip("/")

    async def repositories(self, limit: int | None) -> list[str]:
        token = await self._login()
        user = self._credentials.username
        url: str | None = (
            f"{self._base}/v2/repositories/{quote(user, safe='')}/?page_size={PAGE_SIZE}"
        )
        headers = {"Authorization": f"Bearer {token}"}
        names: dict[str, None] = {}
        for _ in range(MAX_PAGES):
            if url is None or (limit is not None and len(names) >= limit):
                break
            if not same_origin(url, self._base):
                raise RegistryError("Docker Hub repository list: pagination leads to another host")
            page = await request_json(self._http, "GET", url, headers=headers)
            for item in page.get("results") or []:
                if isinstance(item, dict) and item.get("repository_type") in ("image", None):
                    names[f"{item.get('namespace') or user}/{item['name']}"] = None
            following = page.get("next")
            url = following if isinstance(following, str) and following else None
        listed = list(names)
        return listed if limit is None else listed[:limit]

    async def _login(self) -> str:
        body = {"username": self._credentials.username, "password": self._credentials.password}
        try:
            answer = await request_json(
                self._http, "POST", f"{self._base}/v2/users/login", json_body=body
            )
        except UnauthorizedError as exc:
            raise AuthError(
                f"Docker Hub refused the login of user {self._credentials.username!r} "
                f"(HTTP {exc.status})"
            ) from None
        token = answer.get("token")
        if not isinstance(token, str) or not token:
            raise AuthError("Docker Hub login answered without a token")
        return token
