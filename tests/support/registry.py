"""A real distribution registry (``docker-registry serve``) run by a test on loopback.

Each :class:`RegistryServer` owns a work directory holding its generated config, its
storage, its htpasswd file and two logs: the registry's own log on stderr (``log``) and
the Apache-style access log on stdout (``access_log``). It binds ``127.0.0.1:0`` and reads
the chosen port from the ``listening on 127.0.0.1:PORT`` line, so tests never collide on
ports. Start to ready takes a few hundredths of a second.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import ssl
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import bcrypt
import yaml

from tests.support.accesslog import AccessLogEntry, parse_lines
from tests.support.procs import ManagedProcess, ProcessError, require_binary, start_process

REGISTRY_BINARY = "docker-registry"
SUPPORT_AGENT_PREFIX = "dregsy-test-support/"
"""User-Agent prefix of the fixture's own requests (readiness, log markers); never reported."""

_LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
_READY_STATUSES = frozenset({200, 401})


@dataclass(frozen=True)
class HtpasswdAuth:
    """Basic auth from an htpasswd file (bcrypt cost 4: the registry hashes every request)."""

    users: Mapping[str, str]
    realm: str = "test-realm"


@dataclass(frozen=True)
class TokenAuth:
    """Bearer-token auth (``auth.token``) delegated to a token server."""

    realm: str
    service: str
    issuer: str
    rootcertbundle: Path


Auth = HtpasswdAuth | TokenAuth


def htpasswd_line(user: str, password: str, rounds: int = 4) -> str:
    """One ``user:$2b$...`` htpasswd line with a bcrypt hash of low cost."""
    hashed: bytes = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds))
    return f"{user}:{hashed.decode()}\n"


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge *extra* into a copy of *base*."""
    merged = dict(base)
    for key, value in extra.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


class RegistryServer:
    """One ``docker-registry serve CONFIG`` process on ``127.0.0.1:<random port>``.

    *tls* is ``(cert, key)``; *ca* is the CA file clients (and the readiness check) trust.
    *client_ca* turns on mutual TLS (``http.tls.clientcas``); the readiness check then
    needs *client_cert* ``(cert, key)``. *extra_config* is deep-merged into the config.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        auth: Auth | None = None,
        tls: tuple[Path, Path] | None = None,
        ca: Path | None = None,
        client_ca: Path | None = None,
        client_cert: tuple[Path, Path] | None = None,
        extra_config: Mapping[str, Any] | None = None,
        name: str = "registry",
    ) -> None:
        if client_ca is not None and (tls is None or client_cert is None):
            raise ValueError("mutual TLS (client_ca) needs tls and a client_cert for readiness")
        self.workdir = workdir
        self.name = name
        self.auth = auth
        self.tls = tls
        self.ca = ca
        self.client_ca = client_ca
        self.client_cert = client_cert
        self.extra_config: Mapping[str, Any] = extra_config or {}
        self.config_path = workdir / "config.yml"
        self.data_dir = workdir / "data"
        self._secret = secrets.token_hex(16)
        self._process: ManagedProcess | None = None
        self._port: int | None = None
        self._log_offset = 0

    # -- configuration -------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The registry configuration as a dict (written to ``config.yml`` on start)."""
        http_section: dict[str, Any] = {
            "addr": "127.0.0.1:0",
            "secret": self._secret,
        }
        if self.tls is not None:
            cert, key = self.tls
            tls_section: dict[str, Any] = {"certificate": str(cert), "key": str(key)}
            if self.client_ca is not None:
                tls_section["clientcas"] = [str(self.client_ca)]
            http_section["tls"] = tls_section
        config: dict[str, Any] = {
            "version": "0.1",
            "log": {"level": "info", "formatter": "text"},
            "storage": {
                "filesystem": {"rootdirectory": str(self.data_dir)},
                "delete": {"enabled": True},
                "cache": {"blobdescriptor": "inmemory"},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http_section,
        }
        if isinstance(self.auth, HtpasswdAuth):
            config["auth"] = {
                "htpasswd": {"realm": self.auth.realm, "path": str(self.htpasswd_path)}
            }
        elif isinstance(self.auth, TokenAuth):
            config["auth"] = {
                "token": {
                    "realm": self.auth.realm,
                    "service": self.auth.service,
                    "issuer": self.auth.issuer,
                    "rootcertbundle": str(self.auth.rootcertbundle),
                }
            }
        return _merge(config, self.extra_config)

    @property
    def htpasswd_path(self) -> Path:
        """Where the htpasswd file is written (used with :class:`HtpasswdAuth` only)."""
        return self.workdir / "htpasswd"

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> RegistryServer:
        """Write the config, start the registry and wait until ``GET /v2/`` answers."""
        if self._process is not None and self._process.alive():
            raise RuntimeError(f"{self.name} is already running")
        binary = require_binary(REGISTRY_BINARY)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(exist_ok=True)
        if isinstance(self.auth, HtpasswdAuth):
            self.htpasswd_path.write_text(
                "".join(htpasswd_line(u, p) for u, p in self.auth.users.items())
            )
        self.config_path.write_text(yaml.safe_dump(self.config(), sort_keys=False))
        # REGISTRY_* variables would silently override the generated config.
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        self._port = None
        self._log_offset = 0
        self._process = start_process(
            [binary, "serve", str(self.config_path)], self.workdir, name=self.name, env=env
        )
        try:
            self._process.wait_ready(self._ready, timeout)
        except ProcessError:
            self._process.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the registry by PID (SIGTERM, wait, kill after a timeout)."""
        if self._process is not None:
            self._process.stop()

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def process(self) -> ManagedProcess:
        """The running process (raises before :meth:`start`)."""
        if self._process is None:
            raise RuntimeError(f"{self.name} has not been started")
        return self._process

    # -- addresses -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the registry listens on."""
        if self._port is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._port

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def scheme(self) -> str:
        """``https`` with TLS, else ``http``."""
        return "https" if self.tls is not None else "http"

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"{self.scheme}://{self.host}"

    @property
    def log(self) -> Path:
        """The registry's own log (stderr)."""
        return self.process.stderr_path

    @property
    def access_log(self) -> Path:
        """The access log (stdout), one Apache combined line per request."""
        return self.process.stdout_path

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context for this registry: trusts *ca* (or nothing is verified without
        one) and presents *client_cert*; None without TLS."""
        if self.tls is None:
            return None
        if self.ca is not None:
            context = ssl.create_default_context(cafile=str(self.ca))
        else:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.client_cert is not None:
            cert, key = self.client_cert
            context.load_cert_chain(str(cert), str(key))
        return context

    # -- access log ----------------------------------------------------------------------

    def requests(self, *, sync: bool = True) -> list[AccessLogEntry]:
        """Requests logged since start or the last :meth:`clear_requests`, oldest first.

        The registry writes a line after handling a request, possibly after the client saw
        the response; with *sync* a marker request is sent first and awaited in the log,
        so every request completed before this call is included (no marker once the
        registry has stopped: its log is complete then). The fixture's own
        requests (readiness checks, markers) are never reported.
        """
        if sync and self.process.alive():
            self._sync_access_log()
        with self.access_log.open("rb") as stream:
            stream.seek(self._log_offset)
            data = stream.read()
        complete = data[: data.rfind(b"\n") + 1].decode("utf-8", errors="replace")
        return [
            entry
            for entry in parse_lines(complete.splitlines())
            if not entry.user_agent.startswith(SUPPORT_AGENT_PREFIX)
        ]

    def clear_requests(self) -> None:
        """Forget the requests logged so far (the file is kept; an offset is remembered)."""
        if self.process.alive():
            self._sync_access_log()
        self._log_offset = self.access_log.stat().st_size

    def _sync_access_log(self, timeout: float = 5.0) -> None:
        marker = f"{SUPPORT_AGENT_PREFIX}log-marker/{uuid.uuid4().hex}".encode()
        self._get_base(user_agent=marker.decode())
        deadline = time.monotonic() + timeout
        while marker not in self.access_log.read_bytes():
            if time.monotonic() > deadline:
                raise ProcessError(f"marker request missing from {self.access_log}")
            time.sleep(0.005)

    # -- readiness -----------------------------------------------------------------------

    def _ready(self) -> bool:
        if self._port is None:
            found = _LISTENING.search(self.process.stderr_path.read_text(errors="replace"))
            if found is None:
                return False
            self._port = int(found.group(1))
        try:
            return self._get_base() in _READY_STATUSES
        except (OSError, http.client.HTTPException):
            return False

    def _get_base(self, user_agent: str = f"{SUPPORT_AGENT_PREFIX}ready") -> int:
        """``GET /v2/`` with the standard library; return the status."""
        connection: http.client.HTTPConnection
        if self.tls is None:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        else:
            connection = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=5, context=self.ssl_context()
            )
        try:
            connection.request("GET", "/v2/", headers={"User-Agent": user_agent})
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()


class RegistryFactory:
    """Starts :class:`RegistryServer` instances in subdirectories of *root*; stops them all."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._started: list[RegistryServer] = []

    def __call__(
        self,
        name: str = "registry",
        *,
        auth: Auth | None = None,
        tls: tuple[Path, Path] | None = None,
        ca: Path | None = None,
        client_ca: Path | None = None,
        client_cert: tuple[Path, Path] | None = None,
        extra_config: Mapping[str, Any] | None = None,
    ) -> RegistryServer:
        """Start a registry in ``<root>/<name>`` (suffixed ``-2``, ``-3`` … if taken)."""
        workdir = self.root / name
        suffix = 1
        while workdir.exists():
            suffix += 1
            workdir = self.root / f"{name}-{suffix}"
        server = RegistryServer(
            workdir,
            auth=auth,
            tls=tls,
            ca=ca,
            client_ca=client_ca,
            client_cert=client_cert,
            extra_config=extra_config,
            name="registry",
        )
        self._started.append(server)
        return server.start()

    @property
    def started(self) -> list[RegistryServer]:
        """Every registry started so far."""
        return list(self._started)

    def stop_all(self) -> None:
        """Stop every registry started by this factory (newest first)."""
        while self._started:
            self._started.pop().stop()
