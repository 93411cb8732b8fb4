"""The Docker relay's pure parts, and its Engine API conversation with a fake daemon served
on a UNIX socket (tests.support.served).

The real daemon is exercised in tests/e2e/test_docker_relay.py; here: host parsing, the
X-Registry-Auth encoding, progress-stream errors, the ping retries, and the requests a copy
makes (and the clean-up after it).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path

import httpx
import pytest
from msgspec.structs import replace

from dregsy.config.types import Config, DockerSettings, Location, Mapping, RelayKind, Task
from dregsy.credentials import Credentials
from dregsy.errors import RelayError, RelayUnavailableError
from dregsy.reference import parse_registry
from dregsy.registry.directory import RegistryDirectory
from dregsy.registry.pool import HttpPool, HttpSettings
from dregsy.relays.base import ImageJob
from dregsy.relays.docker import DockerRelay, ProgressLog, config_problems, daemon_ref, scrub
from dregsy.relays.dockerapi import (
    MAX_API_VERSION,
    error_body,
    parse_api_version,
    parse_host,
    parse_stream_line,
    registry_auth,
    resolve_host,
    stream_error,
)
from tests.support.served import LoopbackWeb

# -- hosts and versions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "socket_path", "address", "base_url"),
    [
        ("unix:///var/run/docker.sock", "/var/run/docker.sock", None, "http://docker"),
        ("tcp://localhost:2375", None, "localhost:2375", "http://localhost:2375"),
        ("tcp://10.0.0.5", None, "10.0.0.5:2375", "http://10.0.0.5:2375"),
        ("tcp://dind:2376/", None, "dind:2376", "http://dind:2376"),
        ("tcp://[::1]:2375", None, "[::1]:2375", "http://[::1]:2375"),
    ],
)
def test_parse_host(text: str, socket_path: str | None, address: str | None, base_url: str) -> None:
    host = parse_host(text)
    assert (host.socket_path, host.address, host.base_url) == (socket_path, address, base_url)
    assert str(host) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ssh://me@box", "unsupported Docker host"),
        ("npipe:////./pipe/docker_engine", "unsupported Docker host"),
        ("/var/run/docker.sock", "unsupported Docker host"),
        ("unix://relative.sock", "must be absolute"),
        ("tcp://", "expected unix:///path/to/docker.sock or tcp://host:port"),
        ("tcp://host:2375/path", "expected"),
        ("tcp://host:99999", "invalid Docker host"),
    ],
)
def test_parse_host_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_host(text)


def test_resolve_host_order() -> None:
    env = {"DOCKER_HOST": "tcp://from-env:2375"}
    assert resolve_host("unix:///a.sock", env).url == "unix:///a.sock"
    assert resolve_host(None, env).url == "tcp://from-env:2375"
    assert resolve_host(None, {}).url == "unix:///var/run/docker.sock"
    assert resolve_host(None, {"DOCKER_HOST": ""}).url == "unix:///var/run/docker.sock"


def test_api_versions() -> None:
    assert parse_api_version("1.41") == (1, 41)
    assert parse_api_version("v1.24") == (1, 24)
    for bad in ("1", "latest", "1.41.0", ""):
        with pytest.raises(ValueError, match="invalid Docker API version"):
            parse_api_version(bad)


def _config(settings: DockerSettings, *mappings: Mapping) -> Config:
    registry = parse_registry("127.0.0.1:5000")
    task = Task("t", Location(registry), Location(registry), mappings or (Mapping("a", "a"),))
    return Config((task,), relay=RelayKind.DOCKER, relay_reason="dockerhost", docker=settings)


def test_config_problems() -> None:
    good = _config(DockerSettings(host="unix:///x.sock", api_version="1.41"))
    assert config_problems(good, {}) == []
    bad = _config(
        DockerSettings(host="ssh://box", api_version="one"),
        Mapping("a", "a"),
        Mapping("b", "b", platform="all"),
        Mapping("c", "c", platforms=("linux/amd64",)),
        Mapping("d", "d", platform="linux/arm64"),
    )
    found = [(p.path, p.message) for p in config_problems(bad, {})]
    assert [path for path, _ in found] == ["dockerhost", "api-version"]
    from_env = config_problems(_config(DockerSettings()), {"DOCKER_HOST": "ssh://box"})
    assert [(p.path, p.message.split(":")[0]) for p in from_env] == [("", "DOCKER_HOST")]


# -- credentials -----------------------------------------------------------------------


def _decode(header: str) -> object:
    return json.loads(base64.urlsafe_b64decode(header))


def test_registry_auth_encoding() -> None:
    # a password whose JSON base64-encodes to '+' and '/' in standard base64
    creds = Credentials("alice", "s3cr?t>>~~")
    header = registry_auth(creds, "127.0.0.1:5000")
    assert "+" not in header
    assert "/" not in header
    assert _decode(header) == {
        "username": "alice",
        "password": "s3cr?t>>~~",
        "serveraddress": "127.0.0.1:5000",
    }
    assert _decode(registry_auth(None, "127.0.0.1:5000")) == {}


def test_scrub_hides_passwords_and_headers() -> None:
    creds = Credentials("alice", "hunter2")
    header = registry_auth(creds, "r")
    text = f"auth hunter2 failed with {header} for alice"
    assert scrub(text, (creds, None), header) == "auth *** failed with *** for alice"


# -- progress streams ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('{"status":"Pulling fs layer","progressDetail":{},"id":"683028046644"}', None),
        (
            '{"errorDetail":{"message":"unauthorized: authentication required"},'
            '"error":"unauthorized: authentication required"}',
            "unauthorized: authentication required",
        ),
        ('{"error":"no basic auth credentials"}', "no basic auth credentials"),
        ('{"errorDetail":{"message":"detail wins"},"error":"short"}', "detail wins"),
        ('{"errorDetail":{"code":1}}', "{'code': 1}"),
        ('{"progressDetail":{},"aux":{"Tag":"v1","Digest":"sha256:ab","Size":732}}', None),
    ],
)
def test_stream_error(line: str, error: str | None) -> None:
    message = parse_stream_line(line)
    assert message is not None
    assert stream_error(message) == error


def test_parse_stream_line_edge_cases() -> None:
    assert parse_stream_line("") is None
    assert parse_stream_line("  \r") is None
    assert parse_stream_line("[1, 2]") is None
    assert parse_stream_line("plain words") == {"status": "plain words"}


def test_error_body() -> None:
    assert error_body(b'{"message":"No such image: x:y"}') == "No such image: x:y"
    assert error_body(b"page not found\n") == "page not found"
    assert error_body(b"") == "(no message)"
    assert len(error_body(b"x" * 5000)) == 500


def test_progress_log_dedupes_and_tallies(caplog: pytest.LogCaptureFixture) -> None:
    progress = ProgressLog("pull r/a:v1", logging.INFO)
    lines: list[dict[str, object]] = [
        {"status": "Pulling fs layer", "id": "l1"},
        {"status": "Downloading", "id": "l1", "progressDetail": {"current": 1, "total": 900}},
        {"status": "Downloading", "id": "l1", "progressDetail": {"current": 900, "total": 900}},
        {"status": "Download complete", "id": "l1"},
        {"status": "Pushed", "id": "l1"},
        {"status": "Digest: sha256:ab"},
        {"progressDetail": {}, "aux": {"Digest": "sha256:ab"}},
    ]
    with caplog.at_level(logging.INFO, logger="dregsy.relays.docker"):
        for line in lines:
            progress(line)
    assert caplog.messages == [
        "pull r/a:v1: l1: Pulling fs layer",
        "pull r/a:v1: l1: Downloading",
        "pull r/a:v1: l1: Download complete",
        "pull r/a:v1: l1: Pushed",
        "pull r/a:v1: Digest: sha256:ab",
    ]
    assert progress.downloaded == {"l1": 900}
    assert progress.pushed == {"l1"}


# -- the conversation with a (mock) daemon ---------------------------------------------

Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
)
SOURCE = Location(parse_registry("127.0.0.1:5001"), Credentials("alice", "secret1"))
TARGET = Location(parse_registry("127.0.0.1:5002"), anonymous=True)


def _stream(*lines: dict[str, object]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\r\n" for line in lines)


class FakeDaemon:
    """Records requests; answers the daemon's way, with `fail` injecting stream errors."""

    def __init__(
        self,
        *,
        version: str = "1.43",
        fail: dict[str, str] | None = None,
        existing: frozenset[str] = frozenset(),
    ) -> None:
        self.version = version
        self.fail = fail or {}
        self.existing = existing  # image names the daemon has before the copy
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        if path == "/_ping":
            return httpx.Response(200, text="OK")
        if path == "/version":
            body = {"ApiVersion": self.version, "MinAPIVersion": "1.12", "Os": "linux"}
            body |= {"Arch": "arm64", "Version": "x"}
            return httpx.Response(200, json=body)
        if request.method == "GET" and path.endswith("/json"):
            name = path.split("/images/", 1)[1].removesuffix("/json")
            return httpx.Response(200 if name in self.existing else 404, json={})
        for step, message in self.fail.items():
            if path.endswith(step):
                if message.startswith("HTTP "):
                    return httpx.Response(500, json={"message": message[5:]})
                return httpx.Response(200, content=_stream({"status": "x"}, {"error": message}))
        if request.method == "DELETE":
            return httpx.Response(200, json=[{"Untagged": path}])
        if path.endswith("/tag"):
            return httpx.Response(201)
        return httpx.Response(
            200,
            content=_stream(
                {"status": "Downloading", "id": "l1", "progressDetail": {"total": 1000}},
                {"status": "Pushed", "id": "l1"},
            ),
        )

    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


FAKE_HOST = "unix:///fake.sock"  # replaced by the socket the fake daemon listens on


class Engines:
    """Fake daemons, each served on a UNIX socket of its own; closed after the test."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._served: list[LoopbackWeb] = []
        self._relays: list[DockerRelay] = []
        self.host = f"unix://{directory / 'docker.sock'}"  # the last daemon's socket

    async def relay(
        self, daemon: Handler | None, settings: DockerSettings | None = None
    ) -> DockerRelay:
        """A prepared DockerRelay talking to `daemon` (None: nothing listens there)."""
        path = self._directory / f"d{len(self._served)}.sock"
        self.host = f"unix://{path}"
        if daemon is not None:
            web = LoopbackWeb(daemon, unix=str(path))
            self._served.append(web)
            await web.start()
        settings = replace(settings or DockerSettings(host=FAKE_HOST), host=self.host)
        relay = DockerRelay(
            settings,
            RegistryDirectory(HttpPool(HttpSettings(certs_dir=Path("/nonexistent")))),
            ping_attempts=3,
            ping_interval=0.0,
            environ={},
        )
        self._relays.append(relay)
        await relay.prepare()
        return relay

    async def aclose(self) -> None:
        for relay in self._relays:
            await relay.aclose()
        for web in self._served:
            await web.stop()


@pytest.fixture
async def engines() -> AsyncIterator[Engines]:
    # UNIX socket paths are short (108 bytes): not under pytest's long tmp_path
    with tempfile.TemporaryDirectory(prefix="dregsy-engine-") as directory:
        served = Engines(Path(directory))
        yield served
        await served.aclose()


def _job(platform: str | None = None) -> ImageJob:
    return ImageJob(
        source=SOURCE.registry.repository("demo/app").tag("v1"),
        target=TARGET.registry.repository("mirror/app").tag("v1"),
        source_location=SOURCE,
        target_location=TARGET,
        digest="sha256:" + "a" * 64,
        platform=platform,
    )


async def test_prepare_negotiates_and_reads_the_platform(engines: Engines) -> None:
    daemon = FakeDaemon(version="1.41")
    relay = await engines.relay(daemon)
    assert relay.default_platform == "linux/arm64"
    assert relay._client is not None
    assert relay._client.api_version == (1, 41)
    await relay.aclose()
    newer = await engines.relay(FakeDaemon(version="1.51"))
    assert newer._client is not None
    assert newer._client.api_version == MAX_API_VERSION
    await newer.aclose()
    fixed = await engines.relay(FakeDaemon(version="1.51"), DockerSettings(FAKE_HOST, "1.40"))
    assert fixed._client is not None
    assert fixed._client.api_version == (1, 40)
    await fixed.aclose()


async def test_copy_pulls_tags_pushes_and_cleans_up(engines: Engines) -> None:
    daemon = FakeDaemon(version="1.41")
    relay = await engines.relay(daemon)
    outcome = await relay.copy(_job("linux/arm64"), relay.new_run())
    await relay.aclose()
    assert (outcome.bytes, outcome.blobs) == (1000, 1)
    assert daemon.calls()[2:] == [
        "GET /v1.41/images/127.0.0.1:5001/demo/app:v1/json",
        "POST /v1.41/images/create",
        "POST /v1.41/images/127.0.0.1:5001/demo/app:v1/tag",
        "POST /v1.41/images/127.0.0.1:5002/mirror/app/push",
        "DELETE /v1.41/images/127.0.0.1:5002/mirror/app:v1",
        "DELETE /v1.41/images/127.0.0.1:5001/demo/app:v1",
    ]
    pull, tag, push = daemon.requests[3:6]
    assert dict(pull.url.params) == {
        "fromImage": "127.0.0.1:5001/demo/app",
        "tag": "v1",
        "platform": "linux/arm64",
    }
    assert _decode(pull.headers["X-Registry-Auth"]) == {
        "username": "alice",
        "password": "secret1",
        "serveraddress": "127.0.0.1:5001",
    }
    assert dict(tag.url.params) == {"repo": "127.0.0.1:5002/mirror/app", "tag": "v1"}
    assert _decode(push.headers["X-Registry-Auth"]) == {}  # anonymous target
    assert dict(push.url.params) == {"tag": "v1"}
    assert "X-Registry-Auth" not in daemon.requests[6].headers


async def test_keep_images_skips_the_clean_up(engines: Engines) -> None:
    daemon = FakeDaemon()
    relay = await engines.relay(daemon, DockerSettings(FAKE_HOST, keep_images=True))
    await relay.copy(_job(), relay.new_run())
    await relay.aclose()
    assert not any(call.startswith("DELETE") for call in daemon.calls())
    assert "platform" not in daemon.requests[2].url.params


@pytest.mark.parametrize(
    ("fail", "message"),
    [
        ({"/images/create": "no basic auth credentials"}, "pull 127.0.0.1:5001/demo/app:v1: no"),
        ({"/images/create": "HTTP manifest unknown"}, "pull 127.0.0.1:5001/demo/app:v1: manif"),
        ({"/tag": "HTTP No such image"}, "tag 127.0.0.1:5001/demo/app:v1: No such image"),
        ({"/push": "denied: requested access"}, "push 127.0.0.1:5002/mirror/app:v1: denied"),
    ],
)
async def test_daemon_errors_fail_the_image_and_clean_up(
    engines: Engines, fail: dict[str, str], message: str
) -> None:
    daemon = FakeDaemon(fail=fail)
    relay = await engines.relay(daemon)
    with pytest.raises(RelayError) as caught:
        await relay.copy(_job(), relay.new_run())
    await relay.aclose()
    assert str(caught.value).startswith(message)
    assert daemon.calls()[-1] == "DELETE /v1.43/images/127.0.0.1:5001/demo/app:v1"


async def test_secrets_echoed_by_the_daemon_are_scrubbed(engines: Engines) -> None:
    daemon = FakeDaemon(fail={"/images/create": "bad password secret1 for alice"})
    relay = await engines.relay(daemon)
    with pytest.raises(RelayError) as caught:
        await relay.copy(_job(), relay.new_run())
    await relay.aclose()
    assert "secret1" not in str(caught.value)
    assert "bad password *** for alice" in str(caught.value)


async def test_ping_retries_then_a_clear_error(engines: Engines) -> None:
    with pytest.raises(RelayUnavailableError) as caught:
        await engines.relay(None)  # nothing listens on the socket
    assert str(caught.value) == (
        f"cannot reach the Docker daemon at {engines.host} (3 attempts over 0 s): "
        "[Errno 2] No such file or directory"
    )


async def test_ping_waits_for_a_late_daemon(engines: Engines) -> None:
    daemon = FakeDaemon()
    pings = 0

    def late(request: httpx.Request) -> httpx.Response:
        nonlocal pings
        if request.url.path == "/_ping":
            pings += 1
            if pings < 3:
                return httpx.Response(503, text="starting")
        return daemon(request)

    relay = await engines.relay(late)
    await relay.aclose()
    assert pings == 3


async def test_platform_needs_api_1_32(engines: Engines) -> None:
    relay = await engines.relay(FakeDaemon(version="1.30"))
    with pytest.raises(RelayError, match=r"platform linux/arm64 needs Docker API 1\.32"):
        await relay.copy(_job("linux/arm64"), relay.new_run())
    await relay.aclose()


def test_daemon_ref() -> None:
    hub = parse_registry("docker.io").repository("alpine")
    assert daemon_ref(hub.tag("3")) == "docker.io/library/alpine:3"
    local = parse_registry("127.0.0.1:5000").repository("a/b")
    assert daemon_ref(local.digest("sha256:" + "b" * 64)) == "127.0.0.1:5000/a/b@sha256:" + "b" * 64


async def test_a_stuck_pull_is_cancelled_at_once(engines: Engines) -> None:
    """SIGTERM cancels running copies: a daemon stream that never ends must not hold it."""
    daemon = FakeDaemon()
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        yield _stream({"status": "Pulling fs layer", "id": "l1"})
        started.set()
        await asyncio.Event().wait()  # the daemon goes quiet
        yield b""  # pragma: no cover - never reached

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/images/create"):
            daemon.requests.append(request)
            return httpx.Response(200, content=endless())
        return daemon(request)

    relay = await engines.relay(handler)
    copy = asyncio.create_task(relay.copy(_job(), relay.new_run()))
    await asyncio.wait_for(started.wait(), 5)
    begun = time.monotonic()
    copy.cancel()
    with pytest.raises(asyncio.CancelledError):
        await copy
    assert time.monotonic() - begun < 1
    await relay.aclose()
    assert relay._locks._locks == {}  # the per-source lock was released


async def test_a_configured_api_version_the_daemon_does_not_speak(engines: Engines) -> None:
    with pytest.raises(RelayUnavailableError) as caught:
        await engines.relay(FakeDaemon(version="1.41"), DockerSettings(FAKE_HOST, "1.43"))
    assert str(caught.value) == (
        f"docker relay: the daemon at {engines.host}: "
        "API version 1.43 is not supported by the daemon, which speaks 1.12 to 1.41"
    )


async def test_a_source_image_the_daemon_had_before_is_kept(engines: Engines) -> None:
    daemon = FakeDaemon(existing=frozenset({"127.0.0.1:5001/demo/app:v1"}))
    relay = await engines.relay(daemon)
    await relay.copy(_job(), relay.new_run())
    await relay.aclose()
    deletes = [call for call in daemon.calls() if call.startswith("DELETE")]
    assert deletes == ["DELETE /v1.43/images/127.0.0.1:5002/mirror/app:v1"]
