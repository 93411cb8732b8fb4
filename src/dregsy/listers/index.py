"""The index lister: repositories an index search finds (`GET /v1/search?q=<term>&n=<n>`).

On Docker Hub the search goes to the Docker index (`index.docker.io`); on any other
registry to that registry's own `/v1/search`, as Docker's search does. An index answers
at most 100 results.
"""

from __future__ import annotations

from yarl import URL

from dregsy.auth.flow import BasicAuth
from dregsy.credentials import Credentials
from dregsy.listers.webapi import request_json
from dregsy.registry.http import Sender

MAX_RESULTS = 100


class IndexLister:
    """Lists the `results[].name` of one index search."""

    def __init__(
        self,
        http: Sender,
        base_url: str,
        search: str,
        *,
        credentials: Credentials | None = None,
    ) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._search = search
        self._auth = BasicAuth(credentials) if credentials else None

    async def repositories(self, limit: int | None) -> list[str]:
        n = MAX_RESULTS if limit is None else max(1, min(limit, MAX_RESULTS))
        url = URL(f"{self._base}/v1/search").with_query(q=self._search, n=n)
        answer = await request_json(self._http, "GET", str(url), auth=self._auth)
        names: dict[str, None] = {}
        for item in answer.get("results") or []:
            if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
                names[item["name"]] = None
        listed = list(names)
        return listed if limit is None else listed[:limit]
