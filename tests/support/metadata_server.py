"""A small GCE metadata server on loopback, enough for google-auth's default credentials.

google-auth finds it through ``GCE_METADATA_HOST`` and ``GCE_METADATA_IP`` (see
:meth:`MetadataServer.env`): the ping of ``/`` answers with ``Metadata-Flavor: Google``, the
default service account's info and an access token are served, and every token request
is counted in ``token_requests``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.support.serving import BackgroundServer

EMAIL = "dregsy-test@test-project.iam.gserviceaccount.com"
_ACCOUNTS = "/computeMetadata/v1/instance/service-accounts/"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return None  # keep pytest's output clean

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if self.headers.get("Metadata-Flavor") != "Google":
            self._send(403, "text/plain", b"missing Metadata-Flavor header")
        elif path == "/":
            self._send(200, "text/plain", b"")
        elif path in (f"{_ACCOUNTS}default/", f"{_ACCOUNTS}{EMAIL}/"):
            info = {"email": EMAIL, "scopes": ["cloud-platform"], "aliases": ["default"]}
            self._send(200, "application/json", json.dumps(info).encode())
        elif path in (f"{_ACCOUNTS}default/token", f"{_ACCOUNTS}{EMAIL}/token"):
            with self.server.lock:
                self.server.token_requests += 1
            body = {"access_token": self.server.token, "expires_in": 3599, "token_type": "Bearer"}
            self._send(200, "application/json", json.dumps(body).encode())
        elif path == "/computeMetadata/v1/project/project-id":
            self._send(200, "text/plain", b"test-project")
        elif path == "/computeMetadata/v1/universe/universe-domain":
            self._send(200, "text/plain", b"googleapis.com")
        else:
            self._send(404, "text/plain", b"not found")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Metadata-Flavor", "Google")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self.token_requests = 0
        self.lock = threading.Lock()


class MetadataServer(BackgroundServer[_Server]):
    """``with MetadataServer("token") as metadata:`` … ``env=metadata.env()``."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def _make_server(self) -> _Server:
        return _Server(self._token)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def token_requests(self) -> int:
        with self.server.lock:
            return self.server.token_requests

    def env(self) -> dict[str, str]:
        """Point google-auth at this server; no key file, no gcloud login."""
        return {
            "GCE_METADATA_HOST": self.address,
            "GCE_METADATA_IP": self.address,
            "GOOGLE_APPLICATION_CREDENTIALS": "",
            "CLOUDSDK_CONFIG": "/nonexistent/gcloud",
        }
