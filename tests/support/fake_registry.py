"""An in-memory registry served over loopback: protocol edge cases real registries rarely show.

It speaks enough of the Distribution API for the copy engine (ping, manifests, blobs,
uploads, mounts, tags) and lets a test inject faults: wrong blob bytes, truncated bodies,
error statuses, a bearer-token requirement, redirects of blob downloads to another host.
With `referrers_api` it serves the OCI 1.1 referrers API as the distribution spec
describes it (`GET /v2/<name>/referrers/<digest>`, `?artifactType=` filtering with
`OCI-Filters-Applied`, `OCI-Subject` on the PUT of a manifest with `subject`); with
`etags` it answers manifest GETs with an ETag and refuses a PUT whose `If-Match` is stale.

Registries are written as request handlers (`httpx.Request` in, `httpx.Response` out);
`FakeNetwork` routes by host name and serves them all from one loopback server
(`tests.support.served`), which dregsy's client reaches through a resolver that sends
every name there. Close networks with `FakeNetwork.close_all()` (an autouse fixture does).
"""

from __future__ import annotations

import hashlib
import json
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import httpx

from dregsy.auth.flow import RegistryAuth
from dregsy.auth.sources import CredentialSource
from dregsy.credentials import Credentials
from dregsy.reference import parse_registry
from dregsy.registry.client import RegistryClient
from dregsy.registry.http import Sender
from dregsy.registry.retry import RetryPolicy, RetrySender
from dregsy.registry.session import Session
from tests.support.certs import Pki
from tests.support.served import LoopbackWeb

_MANIFEST_RE = re.compile(r"^/v2/(?P<repo>.+)/manifests/(?P<ref>[^/]+)$")
_BLOB_RE = re.compile(r"^/v2/(?P<repo>.+)/blobs/(?P<digest>sha256:[a-f0-9]{64})$")
_UPLOAD_RE = re.compile(r"^/v2/(?P<repo>.+)/blobs/uploads/(?P<id>[^/]*)$")
_TAGS_RE = re.compile(r"^/v2/(?P<repo>.+)/tags/list$")
_REFERRERS_RE = re.compile(r"^/v2/(?P<repo>.+)/referrers/(?P<digest>[^/]+)$")
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class FakeRegistry:
    """One registry host's state and behaviour."""

    host: str = "fake.test"
    blobs: dict[str, bytes] = field(default_factory=dict)  # digest -> content (shared store)
    repo_blobs: dict[str, set[str]] = field(default_factory=dict)  # repo -> digests linked
    manifests: dict[str, dict[str, tuple[str, bytes]]] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # repo -> tag -> digest
    uploads: dict[str, bytearray] = field(default_factory=dict)
    log: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    token: str | None = None  # when set, every /v2/ request needs `Bearer <token>`
    serve_wrong_bytes: set[str] = field(default_factory=set)  # digests served corrupted
    truncate: set[str] = field(default_factory=set)  # digests whose download breaks off
    redirect_blobs_to: str | None = None  # host that serves blob downloads
    faults: list[Callable[[httpx.Request], httpx.Response | None]] = field(default_factory=list)
    page_size: int | None = None  # paginate tag lists with Link headers
    referrers_api: bool = False  # serve /v2/<name>/referrers/<digest> (else 404, as 2.8)
    etags: bool = False  # ETag on manifest GETs; a PUT with a stale If-Match gets 412

    # -- seeding ---------------------------------------------------------------------------
    def put_blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        self.blobs[digest] = data
        self.repo_blobs.setdefault(repo, set()).add(digest)
        return digest

    def put_manifest(self, repo: str, media_type: str, raw: bytes, tag: str | None = None) -> str:
        digest = sha256(raw)
        self.manifests.setdefault(repo, {})[digest] = (media_type, raw)
        if tag is not None:
            self.tags.setdefault(repo, {})[tag] = digest
        return digest

    def image(self, repo: str, tag: str, layers: list[bytes]) -> str:
        config = json.dumps({"architecture": "amd64", "os": "linux", "n": tag}).encode()
        doc = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": self._desc("application/vnd.oci.image.config.v1+json", repo, config),
            "layers": [
                self._desc("application/vnd.oci.image.layer.v1.tar+gzip", repo, layer)
                for layer in layers
            ],
        }
        raw = json.dumps(doc, sort_keys=True).encode()
        return self.put_manifest(repo, doc["mediaType"], raw, tag)  # type: ignore[arg-type]

    def _desc(self, media_type: str, repo: str, data: bytes) -> dict[str, object]:
        return {"mediaType": media_type, "digest": self.put_blob(repo, data), "size": len(data)}

    # -- serving ---------------------------------------------------------------------------
    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.log.append((request.method, path))
        for fault in self.faults:
            response = fault(request)
            if response is not None:
                return response
        authorized = request.headers.get("authorization") == f"Bearer {self.token}"
        if path.startswith("/v2/") and self.token is not None and not authorized:
            challenge = f'Bearer realm="http://{self.host}/token",service="{self.host}"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        if path == "/token":
            return httpx.Response(200, json={"token": self.token, "expires_in": 300})
        if path == "/v2/":
            return httpx.Response(200, json={})
        if path.startswith("/storage/"):
            return self._blob_body(path.removeprefix("/storage/"))
        for pattern, handler in (
            (_REFERRERS_RE, self._referrers),
            (_UPLOAD_RE, self._upload),
            (_BLOB_RE, self._blob),
            (_MANIFEST_RE, self._manifest),
            (_TAGS_RE, self._tags),
        ):
            m = pattern.match(path)
            if m:
                return handler(request, **m.groupdict())
        return httpx.Response(404)

    def _manifest(self, request: httpx.Request, repo: str, ref: str) -> httpx.Response:
        if request.method == "PUT":
            raw = request.read()
            if_match = request.headers.get("if-match")
            current = self.tags.get(repo, {}).get(ref)
            stale = if_match is not None and if_match != f'"{current}"'
            taken = request.headers.get("if-none-match") == "*" and current is not None
            if self.etags and (stale or taken):
                return httpx.Response(412, json={"errors": [{"code": "PRECONDITION_FAILED"}]})
            stored = self.put_manifest(repo, request.headers["content-type"], raw)
            if not ref.startswith("sha256:"):
                self.tags.setdefault(repo, {})[ref] = stored
            headers = {"Docker-Content-Digest": stored}
            subject = json.loads(raw).get("subject")
            if self.referrers_api and isinstance(subject, dict):
                headers["OCI-Subject"] = subject["digest"]
            return httpx.Response(201, headers=headers)
        digest = ref if ref.startswith("sha256:") else self.tags.get(repo, {}).get(ref)
        found = self.manifests.get(repo, {}).get(digest or "")
        if found is None:
            return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})
        media_type, raw = found
        headers = {"Content-Type": media_type, "Docker-Content-Digest": digest or ""}
        if self.etags:
            headers["ETag"] = f'"{digest}"'
        body = b"" if request.method == "HEAD" else raw
        headers["Content-Length"] = str(len(raw))
        return httpx.Response(200, headers=headers, content=body)

    def _referrers(self, request: httpx.Request, repo: str, digest: str) -> httpx.Response:
        if not self.referrers_api:
            return httpx.Response(404, text="404 page not found")
        if repo not in self.manifests:
            return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN"}]})
        if not digest.startswith("sha256:") or len(digest) != 71:
            return httpx.Response(400, json={"errors": [{"code": "DIGEST_INVALID"}]})
        wanted = request.url.params.get("artifactType")
        entries = []
        for found, (media_type, raw) in self.manifests.get(repo, {}).items():
            doc = json.loads(raw)
            subject = doc.get("subject")
            if not isinstance(subject, dict) or subject.get("digest") != digest:
                continue
            kind = doc.get("artifactType") or doc.get("config", {}).get("mediaType", "")
            if wanted is not None and kind != wanted:
                continue
            entry = {"mediaType": media_type, "digest": found, "size": len(raw)}
            entry["artifactType"] = kind
            if doc.get("annotations"):
                entry["annotations"] = doc["annotations"]
            entries.append(entry)
        headers = {"Content-Type": OCI_INDEX}
        if wanted is not None:
            headers["OCI-Filters-Applied"] = "artifactType"
        body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        return httpx.Response(200, json=body, headers=headers)

    def _blob(self, request: httpx.Request, repo: str, digest: str) -> httpx.Response:
        if digest not in self.repo_blobs.get(repo, set()):
            return httpx.Response(404, json={"errors": [{"code": "BLOB_UNKNOWN"}]})
        if request.method == "HEAD":
            return httpx.Response(200, headers={"Content-Length": str(len(self.blobs[digest]))})
        if self.redirect_blobs_to is not None:
            url = f"http://{self.redirect_blobs_to}/storage/{digest}"
            return httpx.Response(307, headers={"Location": url})
        return self._blob_body(digest)

    def _blob_body(self, digest: str) -> httpx.Response:
        data = self.blobs[digest]
        if digest in self.serve_wrong_bytes:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        if digest in self.truncate:
            return httpx.Response(200, stream=_Broken(data[: len(data) // 2]))
        return httpx.Response(200, content=data)

    def _upload(self, request: httpx.Request, repo: str, id: str) -> httpx.Response:
        if request.method == "POST":
            mount, source = request.url.params.get("mount"), request.url.params.get("from")
            if mount and source and mount in self.repo_blobs.get(source, set()):
                self.repo_blobs.setdefault(repo, set()).add(mount)
                return httpx.Response(201)
            upload = uuid.uuid4().hex
            self.uploads[upload] = bytearray()
            location = f"/v2/{repo}/blobs/uploads/{upload}?_state=x"
            return httpx.Response(202, headers={"Location": location})
        if request.method == "PUT":
            data = self.uploads.pop(id) + request.read()
            digest = request.url.params["digest"]
            if sha256(bytes(data)) != digest:
                return httpx.Response(400, json={"errors": [{"code": "DIGEST_INVALID"}]})
            self.put_blob(repo, bytes(data))
            return httpx.Response(201)
        return httpx.Response(405)

    def _tags(self, request: httpx.Request, repo: str) -> httpx.Response:
        names = list(self.tags.get(repo, {}))
        if repo not in self.tags:
            return httpx.Response(404, json={"errors": [{"code": "NAME_UNKNOWN"}]})
        if self.page_size is None:
            return httpx.Response(200, json={"name": repo, "tags": names})
        last = request.url.params.get("last")
        start = names.index(last) + 1 if last else 0
        page = names[start : start + self.page_size]
        headers = {}
        if start + self.page_size < len(names):
            nxt = f"/v2/{repo}/tags/list?n={self.page_size}&last={page[-1]}"
            headers["Link"] = f'<{nxt}>; rel="next"'
        return httpx.Response(200, json={"name": repo, "tags": page}, headers=headers)


class _Broken(httpx.AsyncByteStream, httpx.SyncByteStream):
    """A body that delivers some bytes, then fails like a dropped connection."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._data
        raise httpx.ReadError("connection reset by peer")

    def __iter__(self) -> Iterator[bytes]:
        yield self._data
        raise httpx.ReadError("connection reset by peer")


class FakeNetwork:
    """Routes requests by host to fake registries (or other handlers), served on loopback."""

    _open: ClassVar[list[FakeNetwork]] = []

    def __init__(
        self, *registries: FakeRegistry, pki: Pki | None = None, ipv6: bool = False
    ) -> None:
        self.hosts: dict[str, Callable[[httpx.Request], httpx.Response]] = {
            r.host: r for r in registries
        }
        self.requests: list[httpx.Request] = []
        self._pki = pki  # HTTPS too, with its server certificate (for localhost)
        self.web = LoopbackWeb(self._route, tls=pki.server_context() if pki else None, ipv6=ipv6)
        self._senders: list[Sender] = []
        FakeNetwork._open.append(self)

    async def _route(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        handler = self.hosts.get(request.url.netloc.decode())
        if handler is None:
            raise httpx.ConnectError(f"no route to {request.url.host}", request=request)
        return handler(request)

    def session(self, *, max_connections: int = 8) -> Session:
        """A dregsy session whose every host name leads to this network."""
        pki = self._pki
        session = Session(
            tls=pki.ssl_context if pki is not None else _no_tls,
            max_connections=max_connections,
            connect_timeout=10.0,
            read_timeout=30.0,
            resolver=self.web.resolver,
        )
        self._senders.append(session)
        return session

    async def close(self) -> None:
        for sender in self._senders:
            await sender.aclose()
        self._senders.clear()
        await self.web.stop()

    @classmethod
    async def close_all(cls) -> None:
        while cls._open:
            await cls._open.pop().close()


def _no_tls() -> ssl.SSLContext:
    raise AssertionError("this network speaks plain HTTP only (give it a Pki)")


def fake_client(
    network: FakeNetwork,
    host: str,
    *,
    credentials: CredentialSource | Credentials | None = None,
    actions: tuple[str, ...] = ("pull", "push"),
    sleeps: list[float] | None = None,
) -> RegistryClient:
    """A RegistryClient whose HTTP goes to `network`; retry sleeps are recorded, not slept."""

    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    sender = RetrySender(network.session(), RetryPolicy(), sleep=sleep)
    registry = parse_registry(f"http://{host}")
    return RegistryClient(registry, sender, RegistryAuth(credentials), actions=actions)
