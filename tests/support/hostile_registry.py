"""A registry that refuses every manifest with a 403 whose error message is HTML.

A source for tests of what shows registry error texts (the status page must escape them).
It answers `/v2/` with 200 (no auth) and every other request with the distribution spec's
error body carrying `MESSAGE`.
"""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.support.serving import BackgroundServer

MESSAGE = '<img src=x onerror="alert(1)"> & <b>not allowed</b>'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, with_body: bool) -> None:
        if self.path.rstrip("/") == "/v2":
            body = b"{}"
            self.send_response(200)
        else:
            doc = {"errors": [{"code": "DENIED", "message": MESSAGE}]}
            body = json.dumps(doc).encode()
            self.send_response(403)
        self.send_header("Content-Type", "application/json")
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer(True)

    def do_HEAD(self) -> None:
        self._answer(False)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


class HostileRegistry(BackgroundServer[ThreadingHTTPServer]):
    def _make_server(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        return server

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"
