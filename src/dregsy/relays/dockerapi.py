"""The Docker Engine API: a small async client for what a relay needs (ping, pull, tag, push).

Why httpx and not the `docker` SDK: the SDK blocks, so it would run in threads, and a
thread cannot be cancelled: a pull of a large image would keep the process alive after
SIGTERM until the daemon finished it, breaking the promise that dregsy stops within 10 s.
Here every request is an awaitable that asyncio cancels at once (the connection is closed,
and the daemon drops the pull or push of a client that went away). It also keeps one HTTP
stack in dregsy (httpx, whose loggers never show headers) and adds no dependency.

The daemon is reached over its UNIX socket (`unix:///var/run/docker.sock`) or plain TCP
(`tcp://host:2375`, as a Docker-in-Docker sidecar serves it); TLS to the daemon is not
supported. Requests go to `/v<api>/...`: the configured API version, else the daemon's own,
capped at `MAX_API_VERSION`.

Pulls and pushes answer 200 at once and then stream JSON progress lines; a failure arrives
*inside* that stream as `{"errorDetail": {...}, "error": "..."}`, so every line is checked.
Credentials travel only in the `X-Registry-Auth` header, to the daemon.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from msgspec import Struct

from dregsy import __version__
from dregsy.credentials import Credentials
from dregsy.errors import RelayError

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_TCP_PORT = 2375
ApiVersion = tuple[int, int]
# The newest API whose behaviour for these endpoints is relied on. Also the oldest that
# Docker Engine 29 accepts; older daemons (20.10 speaks 1.41) are asked in their own version.
MAX_API_VERSION: ApiVersion = (1, 44)
PLATFORM_API_VERSION: ApiVersion = (1, 32)  # `platform` on pulls
USER_AGENT = f"dregsy/{__version__}"
_API_VERSION_RE = re.compile(r"v?(\d{1,3})\.(\d{1,3})")
_MAX_MESSAGE = 500  # characters of a daemon error body kept in an error message

Message = dict[str, Any]  # one JSON line of a progress stream
OnMessage = Callable[[Message], None]


class DaemonError(RelayError):
    """The daemon refused a request or reported an error in a progress stream."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class DockerHost(Struct, frozen=True):
    """Where the daemon listens: a UNIX socket path, or a TCP `host:port`."""

    url: str  # as configured, for messages
    socket_path: str | None = None
    address: str | None = None  # host:port, for tcp://

    @property
    def base_url(self) -> str:
        return f"http://{self.address}" if self.address else "http://docker"

    def transport(self) -> httpx.AsyncHTTPTransport:
        if self.socket_path is not None:
            return httpx.AsyncHTTPTransport(uds=self.socket_path)
        return httpx.AsyncHTTPTransport()

    def __str__(self) -> str:
        return self.url


def parse_host(text: str) -> DockerHost:
    """`unix:///path/to/docker.sock` or `tcp://host[:port]`; ValueError for anything else."""
    raw = text.strip()
    expected = "expected unix:///path/to/docker.sock or tcp://host:port"
    if raw.startswith("unix://"):
        path = raw.removeprefix("unix://")
        if not path.startswith("/"):
            raise ValueError(f"invalid Docker host {raw!r}: the socket path must be absolute")
        return DockerHost(raw, socket_path=path)
    if raw.startswith("tcp://"):
        try:
            parts = urlsplit(raw)
            port = parts.port or DEFAULT_TCP_PORT
        except ValueError as exc:
            raise ValueError(f"invalid Docker host {raw!r}: {exc}") from None
        if not parts.hostname or parts.path not in ("", "/") or parts.query or parts.username:
            raise ValueError(f"invalid Docker host {raw!r}: {expected}")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        return DockerHost(raw, address=f"{host}:{port}")
    raise ValueError(f"unsupported Docker host {raw!r}: {expected}")


def resolve_host(configured: str | None, environ: Mapping[str, str]) -> DockerHost:
    """The configured host, else DOCKER_HOST, else the standard socket."""
    return parse_host(configured or environ.get("DOCKER_HOST") or DEFAULT_HOST)


def parse_api_version(text: str) -> ApiVersion:
    """`1.41` (or `v1.41`) as (1, 41); ValueError otherwise."""
    m = _API_VERSION_RE.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"invalid Docker API version {text!r}: expected e.g. 1.41")
    return int(m.group(1)), int(m.group(2))


def format_api_version(version: ApiVersion) -> str:
    return f"{version[0]}.{version[1]}"


def registry_auth(credentials: Credentials | None, server: str) -> str:
    """The X-Registry-Auth value: URL-safe base64 of the JSON auth config (`{}`: anonymous).

    The daemon needs the header on pushes even for anonymous access.
    """
    doc: dict[str, str] = {}
    if credentials is not None:
        doc = {
            "username": credentials.username,
            "password": credentials.password,
            "serveraddress": server,
        }
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def stream_error(message: Message) -> str | None:
    """The error a progress line reports (`errorDetail.message`, else `error`), if any."""
    detail = message.get("errorDetail")
    if isinstance(detail, dict) and detail.get("message"):
        return str(detail["message"])
    if message.get("error"):
        return str(message["error"])
    if detail:
        return str(detail)
    return None


def parse_stream_line(line: str) -> Message | None:
    """One line of a progress stream as a JSON object; None for blank or non-object lines."""
    text = line.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {"status": text}  # not JSON: keep it as plain progress text
    return value if isinstance(value, dict) else None


def error_body(body: bytes) -> str:
    """The daemon's message from an error response (`{"message": ...}`), else the text."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        doc = None
    if isinstance(doc, dict) and doc.get("message"):
        text = str(doc["message"])
    return text[:_MAX_MESSAGE] or "(no message)"


class Timeouts(Struct, frozen=True):
    connect: float = 10.0
    request: float = 60.0  # whole-response reads of ordinary requests
    stream_idle: float = 600.0  # the longest silence tolerated in a pull or push stream
    ping: float = 5.0


class EngineClient:
    """Engine API requests over one httpx client; call `aclose` when done."""

    def __init__(
        self,
        host: DockerHost,
        *,
        api_version: ApiVersion | None = None,
        timeouts: Timeouts | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.host = host
        self.api_version = api_version
        self._fixed_version = api_version is not None
        self._timeouts = timeouts or Timeouts()
        t = self._timeouts
        self._http = httpx.AsyncClient(
            transport=transport or host.transport(),
            base_url=host.base_url,
            timeout=httpx.Timeout(t.request, connect=t.connect, pool=None),
            headers={"User-Agent": USER_AGENT},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def _path(self, path: str) -> str:
        if self.api_version is None:
            return path
        return f"/v{format_api_version(self.api_version)}{path}"

    async def ping(self) -> None:
        """GET /_ping; raises httpx.TransportError or DaemonError when the daemon is not up."""
        response = await self._http.get("/_ping", timeout=self._timeouts.ping)
        if response.status_code != 200:
            raise DaemonError(error_body(response.content), response.status_code)

    async def negotiate(self) -> Message:
        """GET /version; settles the API version (unless configured) and returns the answer."""
        response = await self._http.get("/version")
        if response.status_code != 200:
            raise DaemonError(f"version: {error_body(response.content)}", response.status_code)
        doc = response.json()
        if not isinstance(doc, dict):
            raise DaemonError("version: the answer is not a JSON object")
        try:
            newest = parse_api_version(str(doc.get("ApiVersion", "")))
            oldest = parse_api_version(str(doc.get("MinAPIVersion") or "1.12"))
        except ValueError as exc:
            raise DaemonError(f"version: {exc}") from None
        if not self._fixed_version:
            self.api_version = min(newest, MAX_API_VERSION)
        elif self.api_version is not None and not oldest <= self.api_version <= newest:
            raise DaemonError(
                f"API version {format_api_version(self.api_version)} is not supported by the "
                f"daemon, which speaks {format_api_version(oldest)} to {format_api_version(newest)}"
            )
        return doc

    async def pull(
        self,
        image: str,
        tag: str,
        *,
        platform: str | None,
        auth: str,
        on_message: OnMessage,
    ) -> None:
        """POST /images/create?fromImage=IMAGE&tag=TAG[&platform=...] (TAG may be a digest)."""
        params = {"fromImage": image, "tag": tag}
        if platform is not None:
            params["platform"] = platform
        await self._stream("/images/create", params, auth, on_message)

    async def tag(self, name: str, repo: str, tag: str) -> None:
        """POST /images/NAME/tag?repo=REPO&tag=TAG."""
        response = await self._http.post(
            self._path(f"/images/{name}/tag"), params={"repo": repo, "tag": tag}
        )
        if not response.is_success:
            raise DaemonError(error_body(response.content), response.status_code)

    async def push(self, repo: str, tag: str, *, auth: str, on_message: OnMessage) -> None:
        """POST /images/REPO/push?tag=TAG."""
        await self._stream(f"/images/{repo}/push", {"tag": tag}, auth, on_message)

    async def exists(self, name: str) -> bool:
        """GET /images/NAME/json: whether the daemon has an image by that name."""
        response = await self._http.get(self._path(f"/images/{name}/json"))
        if response.status_code == 404:
            return False
        if not response.is_success:
            raise DaemonError(error_body(response.content), response.status_code)
        return True

    async def remove(self, name: str) -> bool:
        """DELETE /images/NAME (untag; the image goes with its last tag); False if unknown."""
        response = await self._http.delete(
            self._path(f"/images/{name}"), params={"noprune": "false"}
        )
        if response.status_code == 404:
            return False
        if not response.is_success:
            raise DaemonError(error_body(response.content), response.status_code)
        return True

    async def _stream(
        self, path: str, params: dict[str, str], auth: str, on_message: OnMessage
    ) -> None:
        """POST and read the progress stream, raising DaemonError on the first error line."""
        t = self._timeouts
        timeout = httpx.Timeout(t.stream_idle, connect=t.connect, pool=None)
        async with self._http.stream(
            "POST",
            self._path(path),
            params=params,
            headers={"X-Registry-Auth": auth},
            timeout=timeout,
        ) as response:
            if not response.is_success:
                raise DaemonError(error_body(await response.aread()), response.status_code)
            async for line in response.aiter_lines():
                message = parse_stream_line(line)
                if message is None:
                    continue
                error = stream_error(message)
                if error is not None:
                    raise DaemonError(error)
                on_message(message)
