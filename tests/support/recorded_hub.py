"""A local stand-in for Docker Hub's web API and the Docker index, serving recorded answers.

The answers have the shape (and trimmed field set) of hub.docker.com and index.docker.io
responses: ``POST /v2/users/login`` → ``{"token": JWT}``, ``GET /v2/repositories/<user>/``
→ ``{"count", "next", "previous", "results": [...]}`` with absolute ``next`` URLs, and
``GET /v1/search?q=&n=`` → ``{"num_pages", "num_results", "page_size", "query", "page",
"results": [{"name", "description", ...}]}``. It runs a stdlib ``ThreadingHTTPServer`` on
``127.0.0.1:0`` in a daemon thread; every request is recorded in :attr:`requests`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.serving import BackgroundServer

# A JWT as Hub issues them (header.payload.signature); the content is never checked.
HUB_TOKEN = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VybmFtZSI6ImFsaWNlIiwiZW1haWwiOiJh"
    "bGljZUBleGFtcGxlLmNvbSIsImV4cCI6MTk5OTk5OTk5OX0.c2lnbmF0dXJl"
)


def hub_repository(
    namespace: str, name: str, *, repository_type: str | None = "image", private: bool = False
) -> dict[str, Any]:
    """One entry of ``/v2/repositories/<user>/`` as Hub answers it (trimmed)."""
    return {
        "name": name,
        "namespace": namespace,
        "repository_type": repository_type,
        "status": 1,
        "status_description": "active",
        "description": f"{name} image",
        "is_private": private,
        "star_count": 0,
        "pull_count": 42,
        "last_updated": "2025-02-11T09:14:27.731526Z",
        "date_registered": "2021-06-01T12:00:00.000000Z",
        "affiliation": "",
        "media_types": ["application/vnd.oci.image.index.v1+json"],
        "content_types": ["image"],
        "categories": [],
    }


def search_result(name: str, *, official: bool = False) -> dict[str, Any]:
    """One entry of ``/v1/search`` as the Docker index answers it."""
    return {
        "name": name,
        "description": f"{name} image",
        "star_count": 10,
        "is_official": official,
        "is_automated": False,
    }


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    body: Any


@dataclass
class HubData:
    """What the server knows: users, their repositories, and search results per term."""

    users: dict[str, str] = field(default_factory=dict)  # username -> password
    repositories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per user
    searches: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # per term
    page_size_cap: int = 100  # Hub serves at most 100 per page
    next_host: str | None = None  # serve ``next`` links on another host (misbehaviour)


class RecordedHub(BackgroundServer[ThreadingHTTPServer]):
    """The server; use as a context manager. :attr:`url` is ``http://127.0.0.1:<port>``."""

    def __init__(self, data: HubData) -> None:
        super().__init__()
        self.data = data
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _make_server(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        server.daemon_threads = True
        return server

    def paths(self, method: str | None = None) -> list[str]:
        """The paths requested, in order (optionally of one method)."""
        with self._lock:
            return [r.path for r in self.requests if method is None or r.method == method]

    def handle(
        self, method: str, target: str, authorization: str | None, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        try:
            document = json.loads(body) if body else None
        except ValueError:
            document = None
        with self._lock:
            self.requests.append(
                RecordedRequest(method, parts.path, query, authorization, document)
            )
        path = parts.path.rstrip("/")
        if method == "POST" and path == "/v2/users/login":
            return self._login(document)
        if method == "GET" and path.startswith("/v2/repositories/"):
            return self._repositories(path.removeprefix("/v2/repositories/"), query, authorization)
        if method == "GET" and path == "/v1/search":
            return self._search(query)
        if method == "GET" and path == "/v2":  # a registry's ping, for index search elsewhere
            return HTTPStatus.OK, {}
        return HTTPStatus.NOT_FOUND, {"detail": "Not found."}

    def _login(self, document: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(document, dict):
            return HTTPStatus.BAD_REQUEST, {"detail": "username and password are required"}
        user, password = document.get("username"), document.get("password")
        if not isinstance(user, str) or self.data.users.get(user) != password:
            return HTTPStatus.UNAUTHORIZED, {"detail": "Incorrect authentication credentials."}
        return HTTPStatus.OK, {"token": HUB_TOKEN}

    def _repositories(
        self, user: str, query: Mapping[str, list[str]], authorization: str | None
    ) -> tuple[int, dict[str, Any]]:
        if authorization not in (f"Bearer {HUB_TOKEN}", f"JWT {HUB_TOKEN}"):
            return HTTPStatus.UNAUTHORIZED, {
                "detail": "Authentication credentials were not provided."
            }
        items = self.data.repositories.get(user, [])
        size = min(int(query.get("page_size", ["10"])[0]), self.data.page_size_cap)
        page = int(query.get("page", ["1"])[0])
        start = (page - 1) * size
        host = self.data.next_host or self.url.removeprefix("http://")
        base = f"http://{host}/v2/repositories/{user}/?page_size={size}"
        more = start + size < len(items)
        return HTTPStatus.OK, {
            "count": len(items),
            "next": f"{base}&page={page + 1}" if more else None,
            "previous": f"{base}&page={page - 1}" if page > 1 else None,
            "results": items[start : start + size],
        }

    def _search(self, query: Mapping[str, list[str]]) -> tuple[int, dict[str, Any]]:
        term = query.get("q", [""])[0]
        n = int(query.get("n", ["25"])[0])
        if not 1 <= n <= 100:
            return HTTPStatus.BAD_REQUEST, {"detail": f"limit {n} is outside [1, 100]"}
        results = self.data.searches.get(term, [])
        return HTTPStatus.OK, {
            "num_pages": 1,
            "num_results": len(results),
            "page_size": n,
            "query": term,
            "page": 1,
            "results": results[:n],
        }


def _handler_class(owner: RecordedHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        timeout = 10

        def do_GET(self) -> None:
            self._respond(*owner.handle("GET", self.path, self.headers.get("Authorization"), b""))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            self._respond(*owner.handle("POST", self.path, self.headers.get("Authorization"), body))

        def _respond(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are recorded instead of logged."""

    return Handler
