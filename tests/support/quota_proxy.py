"""A proxy in front of a real registry that plays Docker Hub's pull quota and 429s.

It forwards every request to the upstream registry unchanged (request bodies with a
Content-Length only: it stands in front of a source, which is only read) and, while a
remaining count is set, adds ``RateLimit-Limit: <limit>;w=21600`` and ``RateLimit-Remaining:
<remaining>;w=21600`` to every manifest response (HEAD included), counting a successful
manifest GET as one pull, as Docker Hub does. :meth:`refuse` queues 429 answers (with a
``Retry-After`` in seconds or as an HTTP date) for the next matching requests. Every
request is recorded with its answer and the time it arrived. It runs a stdlib
``ThreadingHTTPServer`` on ``127.0.0.1:0`` in a daemon thread.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from tests.support.registry import RegistryServer
from tests.support.serving import BackgroundServer

_MANIFEST = re.compile(r"^/v2/.+/manifests/[^/]+$")
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
)


@dataclass(frozen=True)
class Seen:
    """One request the proxy answered."""

    method: str
    path: str
    status: int
    at: float  # time.monotonic() when it arrived

    @property
    def manifest(self) -> bool:
        return bool(_MANIFEST.match(self.path))


@dataclass
class _Refusal:
    method: str | None
    manifests_only: bool
    retry_after: str | None


class QuotaProxy(BackgroundServer[ThreadingHTTPServer]):
    """Use as a context manager; :attr:`host` is ``127.0.0.1:<port>`` for configs."""

    def __init__(self, upstream: RegistryServer, *, limit: int = 100) -> None:
        super().__init__()
        self.upstream = upstream
        self.limit = limit
        self._remaining: int | None = None
        self._refusals: list[_Refusal] = []
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        self._host = ""

    @property
    def host(self) -> str:
        return self._host

    def start(self) -> Self:
        super().start()
        self._host = f"127.0.0.1:{self.port}"  # still known after stop, for assertions
        return self

    def set_remaining(self, remaining: int | None) -> None:
        """Pulls left from now on; None: send no quota headers."""
        with self._lock:
            self._remaining = remaining

    def refuse(
        self,
        count: int = 1,
        *,
        retry_after: str | None = "1",
        method: str | None = None,
        manifests_only: bool = True,
    ) -> None:
        """Answer the next `count` matching requests with 429 Too Many Requests."""
        with self._lock:
            self._refusals.extend(
                _Refusal(method, manifests_only, retry_after) for _ in range(count)
            )

    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def _make_server(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        server.daemon_threads = True
        return server

    def _take_refusal(self, method: str, path: str) -> _Refusal | None:
        manifest = bool(_MANIFEST.match(path.split("?", 1)[0]))
        for index, refusal in enumerate(self._refusals):
            if refusal.method not in (None, method):
                continue
            if refusal.manifests_only and not manifest:
                continue
            return self._refusals.pop(index)
        return None

    def answer(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """The status, headers and body for one request (forwarded, or refused)."""
        arrived = time.monotonic()
        bare = path.split("?", 1)[0]
        with self._lock:
            refusal = self._take_refusal(method, path)
        if refusal is not None:
            out = [("Content-Type", "application/json")]
            if refusal.retry_after is not None:
                out.append(("Retry-After", refusal.retry_after))
            payload = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}'
            self._record(Seen(method, bare, 429, arrived))
            return 429, out, payload
        status, upstream_headers, payload = self._forward(method, path, headers, body)
        out = [(k, v) for k, v in upstream_headers if k.lower() not in _HOP_BY_HOP]
        if _MANIFEST.match(bare):
            with self._lock:
                if self._remaining is not None:
                    if method == "GET" and status == 200:
                        self._remaining = max(0, self._remaining - 1)
                    out.append(("RateLimit-Limit", f"{self.limit};w=21600"))
                    out.append(("RateLimit-Remaining", f"{self._remaining};w=21600"))
        self._record(Seen(method, bare, status, arrived))
        return status, out, payload

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)

    def _forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.upstream.port, timeout=30)
        try:
            # Headers one by one: clients send several `Accept` lines.
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", self.upstream.host)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP and name.lower() not in (
                    "host",
                    "content-length",
                ):
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
            payload = response.read()
            upstream_url = f"http://{self.upstream.host}"
            out = [
                (
                    k,
                    v.replace(upstream_url, f"http://{self.host}")
                    if k.lower() == "location"
                    else v,
                )
                for k, v in response.getheaders()
            ]
            return response.status, out, payload
        finally:
            connection.close()


def _handler_class(owner: QuotaProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 30

        def _relay(self) -> None:
            size = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(size) if size > 0 else b""
            headers = list(self.headers.items())
            status, out, payload = owner.answer(self.command, self.path, headers, body)
            self.send_response(status)  # with the proxy's own Date and Server
            length = str(len(payload))
            for name, value in out:
                lower = name.lower()
                if lower == "content-length":
                    length = value if self.command == "HEAD" else length
                elif lower not in ("date", "server"):
                    self.send_header(name, value)
            self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _relay

        def log_message(self, format: str, *args: Any) -> None:
            """Requests are recorded instead of logged."""

    return Handler
