"""A hostile registry: one in-process server, one `mode` per misbehaviour.

It serves one image (`hostile/app:v1`: a config and one layer) behind bearer-token auth
(its own `/token` wants `USER`/`PASSWORD` and hands out `TOKEN`), takes uploads when used
as a target, and records every request with the `Authorization` header it carried in
`seen` (which two servers may share). A second instance with `cdn=True` on another
loopback address plays the object storage that blob downloads are redirected to.

Modes (the registry answers normally where its mode does not say otherwise):

    ok                  a well-behaved registry
    ping-huge           the anonymous ping of /v2/ answers 401 with an endless body
    token-huge          the token response is an endless chunked body
    token-newline       the token contains a newline (and the real token after it)
    token-expires-huge  expires_in has 400 digits
    401-huge            the first authorized manifest GET answers 401 with an endless body
    redirect-huge       blob GETs answer 307 (to the CDN) with an endless body
    redirect-cdn        blob GETs answer 307 to the CDN
    redirect-gopher     blob GETs answer 307 to a gopher:// URL
    redirect-loop       manifest GETs answer 302 to themselves
    upload-307          (target) the upload PUT answers 307 to itself
    upload-file         (target) the upload Location is file:///etc/passwd
    truncated-manifest  manifest GETs break off half way, every time
    truncated-once      the first manifest GET breaks off half way
    truncated-tags      tag lists break off half way
    bigint-manifest     the manifest carries an integer of 5,000 digits
    deep-manifest       the manifest carries 100,000 nested arrays
    error-injection     manifest GETs answer 404 with control characters in the message
    tag-injection       the tag list holds an invalid tag with control characters
    slow-blob           blob GETs send a few bytes, then nothing
    trickle-blob        blob GETs send 20 bytes a second
    endless-tags        tag list pages link to a next page forever
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.serving import BackgroundServer

USER = "mallory"
PASSWORD = "pw-Zq8vK2-SECRET"
TOKEN = "tok-Ag7Lw3-SECRET"
CDN_TOKEN = "cdn-Xy9Pq1-SECRET"
SECRETS = (PASSWORD, TOKEN, base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
REPO = "hostile/app"
TAG = "v1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
HUGE = 128 * 1024 * 1024  # bytes an endless body sends at most (bounds the old code too)
_CHUNK = b"\0" * (1024 * 1024)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Seen:
    """One request: which server, what, and the Authorization header it carried."""

    server: str
    method: str
    path: str
    authorization: str | None


@dataclass
class Store:
    """What a registry holds: blobs by digest, manifests by digest, tags."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    uploads: dict[str, bytearray] = field(default_factory=dict)


class HostileRegistry(BackgroundServer[ThreadingHTTPServer]):
    def __init__(
        self,
        mode: str = "ok",
        *,
        host: str = "127.0.0.1",
        cdn: HostileRegistry | None = None,
        is_cdn: bool = False,
        seen: list[Seen] | None = None,
        layer_size: int = 64 * 1024,
        empty: bool = False,
    ) -> None:
        super().__init__()
        self.mode = mode
        self.host = host
        self.cdn = cdn
        self.is_cdn = is_cdn
        self.seen: list[Seen] = seen if seen is not None else []
        self.name = "cdn" if is_cdn else f"registry-{mode}"
        self.store = Store()
        self.stopping = threading.Event()
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        if not is_cdn:
            self._seed(layer_size, empty)

    # -- content ------------------------------------------------------------------------
    def _seed(self, layer_size: int, empty: bool) -> None:
        config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
        layer = b"".join(
            hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(layer_size // 32)
        )
        self.config_blob, self.layer_blob = config, layer
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": _desc("application/vnd.oci.image.config.v1+json", config),
            "layers": [_desc("application/vnd.oci.image.layer.v1.tar+gzip", layer)],
        }
        raw = json.dumps(doc).encode()
        if self.mode == "bigint-manifest":
            raw = raw[:-1] + b', "x-big": ' + b"7" * 5000 + b"}"
        elif self.mode == "deep-manifest":
            raw = raw[:-1] + b', "x-deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        self.manifest = raw
        self.manifest_digest = sha256(raw)
        if empty:
            return
        self.store.blobs.update({sha256(config): config, sha256(layer): layer})
        self.store.manifests[self.manifest_digest] = (OCI_MANIFEST, raw)
        self.store.tags[TAG] = self.manifest_digest

    @property
    def address(self) -> str:
        """`host:port` as a registry name (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def count(self, key: str) -> int:
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1
            return self.counts[key]

    def authorizations(self, server: str) -> list[str]:
        return [s.authorization for s in self.seen if s.server == server and s.authorization]

    def stop(self) -> None:
        self.stopping.set()
        super().stop()

    def _make_server(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer((self.host, 0), _handler_class(self))
        server.daemon_threads = True
        server.block_on_close = False
        return server


def _desc(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": sha256(data), "size": len(data)}


def _handler_class(owner: HostileRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        registry = owner

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    registry: HostileRegistry

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # -- plumbing -----------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, doc: object, headers: dict[str, str] | None = None) -> None:
        self._send(
            status,
            json.dumps(doc).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    def _endless(self, status: int, headers: dict[str, str]) -> None:
        """A chunked body of zeros until HUGE bytes or the client stops reading."""
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = 0
        try:
            while sent < HUGE and not self.registry.stopping.is_set():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(_CHUNK), _CHUNK))
                sent += len(_CHUNK)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        self.close_connection = True

    def _truncated(self, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(200)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.wfile.flush()
        self.close_connection = True

    def _slow(self, data: bytes, *, per_second: float) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data[:10])
            self.wfile.flush()
            for i in range(10, len(data), 1 if per_second else len(data)):
                if self.registry.stopping.wait(1 / per_second if per_second else 3600):
                    break
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def _challenge(self, body_endless: bool = False) -> None:
        realm = f"http://{self.registry.address}/token"
        headers = {"WWW-Authenticate": f'Bearer realm="{realm}",service="hostile"'}
        if body_endless:
            self._endless(401, headers)
        else:
            self._json(
                401, {"errors": [{"code": "UNAUTHORIZED", "message": "token needed"}]}, headers
            )

    # -- requests -----------------------------------------------------------------------
    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                data += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return bytes(data)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        reg = self.registry
        url = urlsplit(self.path)
        path = url.path
        auth = self.headers.get("Authorization")
        reg.seen.append(Seen(reg.name, self.command, path, auth))
        if reg.is_cdn:
            return self._cdn(path)
        if path == "/token":
            return self._token(auth)
        if path == "/v2/" and auth is None:
            return self._challenge(body_endless=reg.mode == "ping-huge")
        if auth != f"Bearer {TOKEN}":
            return self._challenge()
        if path == "/v2/":
            return self._json(200, {})
        name, kind, rest = _split(path)
        if kind == "manifests":
            return self._manifest(name, rest)
        if kind == "blobs":
            return self._blob(name, rest, url.query)
        if kind == "tags":
            return self._tags(name, url.query)
        self._json(404, {"errors": [{"code": "NOT_FOUND", "message": "no such path"}]})
        return None

    def _token(self, auth: str | None) -> None:
        mode = self.registry.mode
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if auth != expected:
            return self._json(401, {"details": "wrong credentials"})
        if mode == "token-huge":
            return self._endless(200, {"Content-Type": "application/json"})
        if mode == "token-newline":
            return self._json(200, {"token": f"x\n{TOKEN}", "expires_in": 300})
        if mode == "token-expires-huge":
            body = b'{"token": "%s", "expires_in": %s}' % (TOKEN.encode(), b"9" * 400)
            return self._send(200, body, {"Content-Type": "application/json"})
        self._json(200, {"token": TOKEN, "expires_in": 300})
        return None

    def _cdn(self, path: str) -> None:
        reg = self.registry
        if path == "/token":
            return self._json(200, {"token": CDN_TOKEN})
        if reg.mode == "cdn-401":
            realm = f"http://{reg.address}/token"
            headers = {"WWW-Authenticate": f'Bearer realm="{realm}",service="cdn"'}
            return self._json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, headers)
        digest = path.rsplit("/", 1)[-1]
        source = reg.cdn  # the registry whose blobs this CDN serves
        data = source.store.blobs.get(digest) if source is not None else None
        if data is None:
            return self._json(404, {})
        self._send(200, data)
        return None

    def _manifest(self, name: str, ref: str) -> None:
        reg, mode = self.registry, self.registry.mode
        store = reg.store
        if self.command == "PUT":
            raw = self._body()
            digest = sha256(raw)
            store.manifests[digest] = (self.headers.get("Content-Type", ""), raw)
            if not ref.startswith("sha256:"):
                store.tags[ref] = digest
            return self._send(201, b"", {"Docker-Content-Digest": digest})
        digest = ref if ref.startswith("sha256:") else store.tags.get(ref, "")
        found = store.manifests.get(digest)
        if self.command == "GET":
            if mode == "redirect-loop":
                return self._send(302, b"", {"Location": self.path})
            if mode == "401-huge" and reg.count("401-huge") == 1:
                return self._challenge(body_endless=True)
            if mode == "error-injection":
                message = (
                    "manifest unknown\n2026-01-01T00:00:00Z INFO FORGED line\x1b[2J\x1b]0;owned\x07"
                )
                return self._json(
                    404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": message}]}
                )
        if found is None:
            return self._json(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "unknown"}]})
        media_type, raw = found
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest}
        if self.command == "GET" and (
            mode == "truncated-manifest"
            or (mode == "truncated-once" and reg.count("truncated-once") == 1)
        ):
            return self._truncated(raw, headers)
        if self.command == "HEAD":
            return self._head(raw, headers)
        self._send(200, raw, headers)
        return None

    def _head(self, raw: bytes, headers: dict[str, str]) -> None:
        self.send_response(200)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()

    def _blob(self, name: str, rest: str, query: str) -> None:
        reg, mode, store = self.registry, self.registry.mode, self.registry.store
        if rest.startswith("uploads"):
            return self._upload(name, rest.removeprefix("uploads").strip("/"), query)
        data = store.blobs.get(rest)
        if data is None:
            return self._json(404, {"errors": [{"code": "BLOB_UNKNOWN", "message": "unknown"}]})
        if self.command == "HEAD":
            return self._head(data, {})
        cdn = f"http://{reg.cdn.address}/cdn/{rest}" if reg.cdn is not None else ""
        if mode == "redirect-huge":
            return self._endless(307, {"Location": cdn})
        if mode == "redirect-cdn":
            return self._send(307, b"", {"Location": cdn})
        if mode == "redirect-gopher":
            return self._send(307, b"", {"Location": f"gopher://{reg.address}/1x"})
        if mode in ("slow-blob", "trickle-blob") and rest == sha256(reg.layer_blob):
            return self._slow(data, per_second=20 if mode == "trickle-blob" else 0)
        self._send(200, data)
        return None

    def _upload(self, name: str, upload: str, query: str) -> None:
        reg, store = self.registry, self.registry.store
        if self.command == "POST":
            self._body()
            key = f"u{len(store.uploads)}"
            store.uploads[key] = bytearray()
            location = f"/v2/{name}/blobs/uploads/{key}"
            if reg.mode == "upload-file":
                location = "file:///etc/passwd"
            return self._send(202, b"", {"Location": location})
        if self.command == "PUT" and reg.mode == "upload-307":
            # Read first: an answer before the body is taken may meet a half-sent upload
            # (the client's error is then the broken send, not the redirect policy).
            self._body()
            return self._send(307, b"", {"Location": self.path})
        if self.command == "PATCH":
            store.uploads.setdefault(upload, bytearray()).extend(self._body())
            location = f"/v2/{name}/blobs/uploads/{upload}"
            size = len(store.uploads[upload])
            return self._send(202, b"", {"Location": location, "Range": f"0-{size - 1}"})
        data = store.uploads.pop(upload, bytearray()) + self._body()
        digest = parse_qs(query).get("digest", [""])[0]
        if sha256(bytes(data)) != digest:
            return self._json(400, {"errors": [{"code": "DIGEST_INVALID", "message": "bad"}]})
        store.blobs[digest] = bytes(data)
        self._send(201, b"", {"Docker-Content-Digest": digest})
        return None

    def _tags(self, name: str, query: str) -> None:
        reg, mode = self.registry, self.registry.mode
        tags = list(reg.store.tags)
        if not tags:
            return self._json(404, {"errors": [{"code": "NAME_UNKNOWN", "message": "none"}]})
        if mode == "tag-injection":
            tags.append("bad\n2026-01-01T00:00:00Z INFO FORGED tag\x1b[2J")
        if mode == "truncated-tags":
            return self._truncated(json.dumps({"name": name, "tags": tags}).encode(), {})
        if mode == "endless-tags":
            page = int(parse_qs(query).get("page", ["0"])[0])
            tags = [f"t{page}-{i}" for i in range(1000)]
            link = f'</v2/{name}/tags/list?n=1000&page={page + 1}>; rel="next"'
            return self._json(200, {"name": name, "tags": tags}, {"Link": link})
        self._json(200, {"name": name, "tags": tags})
        return None


def _split(path: str) -> tuple[str, str, str]:
    """`/v2/<name>/<kind>/<rest>` as (name, kind, rest); kind is manifests, blobs or tags."""
    inner = path.removeprefix("/v2/")
    for kind in ("manifests", "blobs", "tags"):
        marker = f"/{kind}/"
        if marker in inner:
            name, _, rest = inner.partition(marker)
            return name, kind, rest
    return inner, "", ""
