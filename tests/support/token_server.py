"""A token server for distribution's ``auth.token``: issues RS256 JWTs with an ``x5c`` chain.

It runs a stdlib :class:`ThreadingHTTPServer` on ``127.0.0.1:0`` in a background thread and
answers ``GET /token?service=...&scope=...`` with Basic credentials (or anonymously), and
the OAuth2 password grant ``POST /token`` as well.
Rules checked against distribution 2.8.2: ``aud`` must be a JSON string, ``exp`` is
required, the signing certificate travels in ``x5c`` and must be in ``rootcertbundle``,
anonymous clients get at most ``pull``. Every request is recorded in :attr:`requests`.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.support.registry import TokenAuth
from tests.support.serving import BackgroundServer

DEFAULT_SERVICE = "test-registry"
DEFAULT_ISSUER = "test-issuer"


@dataclass(frozen=True)
class Scope:
    """One requested scope ``type:name:actions``, e.g. ``repository:demo/app:pull,push``."""

    type: str
    name: str
    actions: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        """Parse with ``split(":", 1)`` then ``rsplit(":", 1)``; None if malformed.

        Repository names contain ``/`` and may carry a registry port, so only the first
        and last colons separate the fields.
        """
        kind, sep, rest = text.partition(":")
        name, sep2, actions = rest.rpartition(":")
        if not (sep and sep2 and kind and name):
            return None
        return cls(kind, name, frozenset(a for a in actions.split(",") if a))


Policy = Callable[[str | None, Scope], Iterable[str]]
"""Decides which actions of a scope a user (None = anonymous) is granted."""


def default_policy(user: str | None, scope: Scope) -> frozenset[str]:
    """Any authenticated user gets every action asked for; anonymous gets ``pull`` only."""
    if user is None:
        return scope.actions & {"pull"}
    return scope.actions


def deny_push_policy(*repositories: str) -> Policy:
    """Like :func:`default_policy`, but nobody may push (or delete) to *repositories*."""
    denied = frozenset(repositories)

    def policy(user: str | None, scope: Scope) -> frozenset[str]:
        granted = default_policy(user, scope)
        if scope.type == "repository" and scope.name in denied:
            return granted - {"push", "delete", "*"}
        return granted

    return policy


@dataclass(frozen=True)
class TokenRequest:
    """What one client asked the token server for, and what it got."""

    user: str | None
    """The Basic user, or None for an anonymous request."""
    scopes: list[str]
    """The requested scopes, in order, with duplicates, split on spaces."""
    service: str | None
    granted: list[dict[str, Any]]
    """The ``access`` claim of the issued token (empty when refused)."""
    status: int
    method: str = "GET"

    def granted_actions(self, name: str, kind: str = "repository") -> frozenset[str]:
        """The actions granted on *name* (e.g. ``demo/app``)."""
        return frozenset(
            action
            for entry in self.granted
            if entry["type"] == kind and entry["name"] == name
            for action in entry["actions"]
        )


def _signing_material() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dregsy-token-signer")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return key, cert


class TokenServer(BackgroundServer[ThreadingHTTPServer]):
    """A Docker registry token server on ``127.0.0.1:<random port>``.

    *users* maps user names to passwords for Basic auth; bad credentials get 401.
    Anonymous requests are served only with *allow_anonymous_pull* (at most ``pull``),
    otherwise they get a token without access. *policy* (see :data:`Policy`) decides the
    granted actions; anonymous grants are always capped at ``pull``.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        users: Mapping[str, str],
        allow_anonymous_pull: bool = False,
        policy: Policy = default_policy,
        service: str = DEFAULT_SERVICE,
        issuer: str = DEFAULT_ISSUER,
        expires_in: int = 300,
    ) -> None:
        super().__init__()
        self.workdir = workdir
        self.users = dict(users)
        self.allow_anonymous_pull = allow_anonymous_pull
        self.policy = policy
        self.service = service
        self.issuer = issuer
        self.expires_in = expires_in
        self._key, self._cert = _signing_material()
        self._x5c = base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode()
        workdir.mkdir(parents=True, exist_ok=True)
        self.bundle_path = workdir / "token-bundle.crt"
        """PEM of the signing certificate: the registry's ``rootcertbundle``."""
        self.bundle_path.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))
        self._lock = threading.Lock()
        self._requests: list[TokenRequest] = []

    # -- lifecycle -----------------------------------------------------------------------

    def _make_server(self) -> ThreadingHTTPServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        server.daemon_threads = True
        return server

    # -- addresses and registry wiring ---------------------------------------------------

    @property
    def realm(self) -> str:
        """The token endpoint URL, ``http://127.0.0.1:PORT/token``."""
        return f"http://127.0.0.1:{self.port}/token"

    def registry_auth(self) -> TokenAuth:
        """The ``auth.token`` settings for a :class:`RegistryServer` using this server."""
        return TokenAuth(
            realm=self.realm,
            service=self.service,
            issuer=self.issuer,
            rootcertbundle=self.bundle_path,
        )

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        """The key verifying issued tokens (for decoding them in tests)."""
        return self._key.public_key()

    # -- recorded requests ---------------------------------------------------------------

    @property
    def requests(self) -> list[TokenRequest]:
        """A snapshot of every token request so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._requests.clear()

    def _record(self, request: TokenRequest) -> None:
        with self._lock:
            self._requests.append(request)

    # -- token issuing -------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> tuple[bool, str | None]:
        """Check an ``Authorization`` header: ``(ok, user)``; user None when anonymous."""
        if not authorization:
            return True, None
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False, None
        user, sep, password = decoded.partition(":")
        if not sep or self.users.get(user) != password:
            return False, user or None
        return True, user

    def grant(self, user: str | None, scopes: Iterable[str]) -> list[dict[str, Any]]:
        """The ``access`` claim for *scopes* (merged per type and name, sorted actions)."""
        merged: dict[tuple[str, str], set[str]] = {}
        for text in scopes:
            scope = Scope.parse(text)
            if scope is None:
                continue
            if user is None and not self.allow_anonymous_pull:
                actions: set[str] = set()
            else:
                actions = set(self.policy(user, scope)) & scope.actions
                if user is None:
                    actions &= {"pull"}
            merged.setdefault((scope.type, scope.name), set()).update(actions)
        return [
            {"type": kind, "name": name, "actions": sorted(actions)}
            for (kind, name), actions in merged.items()
            if actions
        ]

    def issue(self, user: str | None, access: list[dict[str, Any]]) -> dict[str, Any]:
        """The JSON response body carrying a signed token."""
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.service,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(now.timestamp()) + self.expires_in,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        if user is not None:
            claims["sub"] = user
        token: str = jwt.encode(claims, self._key, algorithm="RS256", headers={"x5c": [self._x5c]})
        return {
            "token": token,
            "access_token": token,
            "expires_in": self.expires_in,
            "issued_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    def handle(
        self, method: str, path: str, authorization: str | None, body: bytes = b""
    ) -> tuple[int, dict[str, Any]]:
        """Serve one request: return status and JSON body, recording the request.

        ``GET /token?service=..&scope=..`` takes Basic credentials; ``POST /token`` is the
        OAuth2 password grant (form fields ``grant_type=password``, ``username``,
        ``password``, ``service``, space-separated ``scope``) that containerd tries first.
        """
        url = urlsplit(path)
        if url.path != "/token":
            return HTTPStatus.NOT_FOUND, {"errors": [{"code": "NOT_FOUND"}]}
        if method == "POST":
            params = parse_qs(body.decode(errors="replace"), keep_blank_values=True)
            if params.get("grant_type", [""])[0] != "password":
                return HTTPStatus.BAD_REQUEST, {"error": "unsupported_grant_type"}
            credentials = f"{params.get('username', [''])[0]}:{params.get('password', [''])[0]}"
            authorization = "Basic " + base64.b64encode(credentials.encode()).decode()
        else:
            params = parse_qs(url.query, keep_blank_values=True)
        scopes = [part for value in params.get("scope", []) for part in value.split()]
        service = params.get("service", [None])[0]
        ok, user = self.authenticate(authorization)

        def record(status: int, access: list[dict[str, Any]]) -> None:
            self._record(TokenRequest(user, scopes, service, access, status, method))

        if not ok:
            record(HTTPStatus.UNAUTHORIZED, [])
            return HTTPStatus.UNAUTHORIZED, {"errors": [{"code": "UNAUTHORIZED"}]}
        if service is not None and service != self.service:
            record(HTTPStatus.BAD_REQUEST, [])
            return HTTPStatus.BAD_REQUEST, {"errors": [{"code": "INVALID_SERVICE"}]}
        access = self.grant(user, scopes)
        record(HTTPStatus.OK, access)
        return HTTPStatus.OK, self.issue(user, access)


def _handler_class(owner: TokenServer) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to *owner* (no module-level state)."""

    class Handler(BaseHTTPRequestHandler):
        timeout = 10  # seconds an idle connection may keep a handler thread

        def do_GET(self) -> None:
            self._respond(*owner.handle("GET", self.path, self.headers.get("Authorization")))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = self.rfile.read(length) if length > 0 else b""
            self._respond(*owner.handle("POST", self.path, None, form))

        def _respond(self, status: int, body: dict[str, Any]) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            if status == HTTPStatus.UNAUTHORIZED:
                self.send_header("WWW-Authenticate", 'Basic realm="dregsy-test-token"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the default stderr logging; requests are recorded instead."""

    return Handler
