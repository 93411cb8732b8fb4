"""The OCI 1.1 referrers API in front of a real distribution registry (which lacks it).

Distribution 2.8 stores manifests with `subject` but neither lists referrers nor answers
`OCI-Subject`, and no registry with the API can be installed here. This proxy passes every
request through to the registry unchanged and adds what the distribution spec asks of a
registry with the API:

- a `PUT` of a manifest with `subject` that the registry accepted is answered with
  `OCI-Subject: <subject digest>`, and remembered;
- `GET /v2/<name>/referrers/<digest>` answers an OCI index of the manifests remembered for
  that subject (their descriptor, `artifactType`, `annotations`); `?artifactType=` filters
  it and says so with `OCI-Filters-Applied`. An unknown subject has an empty list (never
  404).

Request bodies sent with `Transfer-Encoding: chunked` (streamed blob uploads) are decoded
before they are passed on. Plain HTTP, no auth, loopback only.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.serving import BackgroundServer

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
_REFERRERS = re.compile(r"^/v2/(?P<repo>.+)/referrers/(?P<digest>[^/]+)$")
_MANIFEST = re.compile(r"^/v2/(?P<repo>.+)/manifests/(?P<ref>[^/]+)$")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "trailer"}


class ReferrersProxy(BackgroundServer[ThreadingHTTPServer]):
    """Adds the referrers API to the registry at `upstream` (`host:port`)."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream
        self._lock = threading.Lock()
        self._referrers: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.listings: list[str] = []  # paths of the referrers requests answered

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def referrers(self, repo: str, subject: str) -> list[str]:
        """Digests of the referrers remembered for `subject`, in push order."""
        with self._lock:
            return list(self._referrers.get((repo, subject), {}))

    def _remember(self, repo: str, raw: bytes, media_type: str, digest: str) -> str | None:
        try:
            doc = json.loads(raw)
        except ValueError:
            return None
        subject = doc.get("subject") if isinstance(doc, dict) else None
        if not isinstance(subject, dict) or not isinstance(subject.get("digest"), str):
            return None
        kind = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType", "")
        entry: dict[str, Any] = {"mediaType": media_type, "digest": digest, "size": len(raw)}
        if kind:
            entry["artifactType"] = kind
        if doc.get("annotations"):
            entry["annotations"] = doc["annotations"]
        with self._lock:
            self._referrers.setdefault((repo, subject["digest"]), {})[digest] = entry
        return str(subject["digest"])

    def _listing(self, repo: str, digest: str, artifact_type: str | None) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._referrers.get((repo, digest), {}).values())
        if artifact_type is not None:
            entries = [e for e in entries if e.get("artifactType") == artifact_type]
        return entries

    def _make_server(self) -> ThreadingHTTPServer:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                match = _REFERRERS.match(parts.path)
                if match is None:
                    self._forward()
                    return
                proxy.listings.append(parts.path)
                wanted = parse_qs(parts.query).get("artifactType", [None])[0]
                body = json.dumps(
                    {
                        "schemaVersion": 2,
                        "mediaType": OCI_INDEX,
                        "manifests": proxy._listing(match["repo"], match["digest"], wanted),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", OCI_INDEX)
                self.send_header("Content-Length", str(len(body)))
                if wanted is not None:
                    self.send_header("OCI-Filters-Applied", "artifactType")
                self.end_headers()
                self.wfile.write(body)

            def do_PUT(self) -> None:
                self._forward()

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(data)
                        data += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _forward(self) -> None:
                body = self._body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                connection = http.client.HTTPConnection(proxy.upstream, timeout=30)
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                    extra: dict[str, str] = {}
                    match = _MANIFEST.match(urlsplit(self.path).path)
                    if self.command == "PUT" and match and response.status == 201:
                        digest = response.getheader("Docker-Content-Digest", "")
                        media_type = self.headers.get("Content-Type", "")
                        subject = proxy._remember(match["repo"], body, media_type, digest)
                        if subject is not None:
                            extra["OCI-Subject"] = subject
                    self.send_response(response.status)
                    for key, value in response.getheaders():
                        if key.lower() not in _HOP_BY_HOP | {"content-length"}:
                            self.send_header(key, value)
                    for key, value in extra.items():
                        self.send_header(key, value)
                    length = response.getheader("Content-Length") or "0"
                    self.send_header(
                        "Content-Length", length if self.command == "HEAD" else str(len(payload))
                    )
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    connection.close()

        for method in ("HEAD", "POST", "PATCH", "DELETE"):
            setattr(Handler, f"do_{method}", Handler._forward)
        return ThreadingHTTPServer(("127.0.0.1", 0), Handler)
