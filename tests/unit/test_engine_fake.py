"""The copy engine and registry client against in-memory registries (faults real ones lack)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from dregsy.auth.flow import RegistryAuth, is_loopback_address
from dregsy.copy.engine import ImageCopier
from dregsy.copy.transfers import Transfers
from dregsy.credentials import Credentials
from dregsy.errors import AuthError, DigestMismatchError, NotFoundError, RegistryUnreachableError
from dregsy.reference import Repository, parse_registry
from dregsy.registry.client import PULL, RegistryClient
from dregsy.registry.tags import list_tags
from tests.support.certs import Pki
from tests.support.fake_registry import FakeNetwork, FakeRegistry, fake_client, sha256

INDEX = "application/vnd.oci.image.index.v1+json"


def _copier(source: RegistryClient, target: RegistryClient) -> ImageCopier:
    return ImageCopier(source, target, transfers=Transfers(), blob_slots=asyncio.Semaphore(4))


def _repo(client: RegistryClient, path: str) -> Repository:
    return client.registry.repository(path)


async def _copy(src: RegistryClient, dst: RegistryClient, tag: str, digest: str) -> ImageCopier:
    copier = _copier(src, dst)
    await copier.copy(_repo(src, "demo/app").tag(tag), _repo(dst, "mirror/app").tag(tag), digest)
    return copier


@pytest.fixture
def world() -> tuple[FakeRegistry, FakeRegistry, FakeNetwork]:
    source = FakeRegistry(host="src.test")
    target = FakeRegistry(host="dst.test", token="t0ken")
    return source, target, FakeNetwork(source, target)


async def test_copies_image_with_one_token(
    world: tuple[FakeRegistry, FakeRegistry, FakeNetwork],
) -> None:
    source, target, network = world
    digest = source.image("demo/app", "v1", [b"layer-%d" % i for i in range(6)])
    src = fake_client(network, "src.test", actions=PULL)
    dst = fake_client(network, "dst.test")
    copier = await _copy(src, dst, "v1", digest)
    assert target.tags["mirror/app"]["v1"] == digest
    assert target.manifests["mirror/app"][digest][1] == source.manifests["demo/app"][digest][1]
    assert len(target.repo_blobs["mirror/app"]) == 7
    assert copier.stats.blobs_streamed == 7
    token_requests = [r for r in network.requests if r.url.path == "/token"]
    assert len(token_requests) == 1
    assert token_requests[0].url.params.get_list("scope") == ["repository:mirror/app:pull,push"]


async def test_wrong_bytes_abort_without_commit(
    world: tuple[FakeRegistry, FakeRegistry, FakeNetwork],
) -> None:
    source, target, network = world
    digest = source.image("demo/app", "v1", [b"good layer", b"bad layer"])
    source.serve_wrong_bytes.add(sha256(b"bad layer"))
    src, dst = fake_client(network, "src.test"), fake_client(network, "dst.test")
    with pytest.raises(DigestMismatchError, match="content has digest"):
        await _copy(src, dst, "v1", digest)
    assert sha256(b"bad layer") not in target.repo_blobs.get("mirror/app", set())
    assert "v1" not in target.tags.get("mirror/app", {})
    assert not target.manifests.get("mirror/app")


async def test_truncated_download_is_retried_then_fails(
    world: tuple[FakeRegistry, FakeRegistry, FakeNetwork],
) -> None:
    source, target, network = world
    digest = source.image("demo/app", "v1", [b"x" * 1000])
    source.truncate.add(sha256(b"x" * 1000))
    src, dst = fake_client(network, "src.test"), fake_client(network, "dst.test")
    with pytest.raises(RegistryUnreachableError, match="broke off"):
        await _copy(src, dst, "v1", digest)
    downloads = [r for r in network.requests if r.url.path.endswith(sha256(b"x" * 1000))]
    assert len([r for r in downloads if r.method == "GET"]) == 3
    assert "v1" not in target.tags.get("mirror/app", {})


async def test_truncated_once_then_succeeds(
    world: tuple[FakeRegistry, FakeRegistry, FakeNetwork],
) -> None:
    source, target, network = world
    layer = b"y" * 1000
    digest = source.image("demo/app", "v1", [layer])
    source.truncate.add(sha256(layer))
    calls = {"n": 0}

    def once(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and request.url.path.endswith(sha256(layer)):
            calls["n"] += 1
            if calls["n"] > 1:
                source.truncate.clear()  # the second download is whole
        return None

    source.faults.append(once)
    src, dst = fake_client(network, "src.test"), fake_client(network, "dst.test")
    await _copy(src, dst, "v1", digest)
    assert target.tags["mirror/app"]["v1"] == digest
    assert calls["n"] == 2


async def test_index_children_before_index(
    world: tuple[FakeRegistry, FakeRegistry, FakeNetwork],
) -> None:
    source, target, network = world
    amd = source.image("demo/app", "amd", [b"amd layer"])
    arm = source.image("demo/app", "arm", [b"arm layer"])
    entries = []
    for digest, arch in ((amd, "amd64"), (arm, "arm64")):
        media_type, raw = source.manifests["demo/app"][digest]
        entries.append(
            {
                "mediaType": media_type,
                "digest": digest,
                "size": len(raw),
                "platform": {"os": "linux", "architecture": arch},
            }
        )
    raw_index = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries}).encode()
    index = source.put_manifest("demo/app", INDEX, raw_index, "multi")
    src, dst = fake_client(network, "src.test"), fake_client(network, "dst.test")
    await _copy(src, dst, "multi", index)
    puts = [p for m, p in target.log if m == "PUT" and "/manifests/" in p]
    assert puts[-1] == "/v2/mirror/app/manifests/multi"
    assert {p.rsplit("/", 1)[1] for p in puts[:-1]} == {amd, arm}
    assert target.tags["mirror/app"]["multi"] == index


async def test_same_registry_mounts_instead_of_streaming() -> None:
    registry = FakeRegistry(host="one.test")
    network = FakeNetwork(registry)
    digest = registry.image("demo/app", "v1", [b"shared layer"])
    src = fake_client(network, "one.test", actions=PULL)
    dst = fake_client(network, "one.test")
    copier = await _copy(src, dst, "v1", digest)
    assert copier.stats.blobs_mounted == 2
    assert copier.stats.blobs_streamed == 0
    assert not [p for m, p in registry.log if m == "GET" and "/blobs/" in p]


async def test_blob_redirect_gets_no_credentials() -> None:
    source = FakeRegistry(host="src.test", token="s3cret-token", redirect_blobs_to="cdn.test")
    storage = FakeRegistry(host="cdn.test", blobs=source.blobs)
    target = FakeRegistry(host="dst.test")
    network = FakeNetwork(source, storage, target)
    digest = source.image("demo/app", "v1", [b"redirected layer"])
    src, dst = fake_client(network, "src.test", actions=PULL), fake_client(network, "dst.test")
    await _copy(src, dst, "v1", digest)
    to_storage = [r for r in network.requests if r.url.host == "cdn.test"]
    assert to_storage
    assert all("authorization" not in r.headers for r in to_storage)
    assert target.tags["mirror/app"]["v1"] == digest


async def test_tag_list_follows_link_pages() -> None:
    registry = FakeRegistry(host="src.test", page_size=2)
    network = FakeNetwork(registry)
    for i in range(5):
        registry.image("demo/app", f"t{i}", [b"l%d" % i])
    client = fake_client(network, "src.test", actions=PULL)
    assert await list_tags(client, _repo(client, "demo/app")) == [f"t{i}" for i in range(5)]
    with pytest.raises(NotFoundError):
        await list_tags(client, _repo(client, "missing/repo"))


async def test_expired_token_is_renewed_once_on_401() -> None:
    source = FakeRegistry(host="src.test", token="first")
    network = FakeNetwork(source)
    source.image("demo/app", "v1", [b"layer"])
    client = fake_client(network, "src.test", actions=PULL)
    assert await list_tags(client, _repo(client, "demo/app")) == ["v1"]
    source.token = "second"  # the registry no longer accepts the cached token
    assert await list_tags(client, _repo(client, "demo/app")) == ["v1"]
    token_requests = [r for r in network.requests if r.url.path == "/token"]
    assert len(token_requests) == 2


@pytest.mark.parametrize(
    ("method", "size", "reused"),
    [("HEAD", 0, True), ("GET", 100, True), ("PUT", 0, True), ("GET", 10 * 1024 * 1024, False)],
)
async def test_unread_small_bodies_are_drained_to_keep_connections(
    method: str, size: int, reused: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/":
            return httpx.Response(200)
        return httpx.Response(200, content=b"x" * size)

    network = FakeNetwork()
    network.hosts["r.test"] = handler
    client = RegistryClient(parse_registry("http://r.test"), network.session(), RegistryAuth(None))
    for _ in range(2):
        async with client.stream(method, "/v2/demo/app/manifests/v1", scopes=()):
            pass
    first, second = network.web.peers[-2:]  # the two requests' client ports
    assert (first == second) is reused


async def test_credentials_never_go_to_a_plain_http_realm_of_an_https_registry(ca: Pki) -> None:
    challenge = 'Bearer realm="http://auth.test/token",service="x"'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    network = FakeNetwork(pki=ca)
    network.hosts["localhost"] = network.hosts["auth.test"] = handler
    auth = RegistryAuth(Credentials("alice", "secret1"))
    client = RegistryClient(parse_registry("https://localhost"), network.session(), auth)
    with pytest.raises(AuthError, match="not sent over plain HTTP"):
        await list_tags(client, _repo(client, "demo/app"))
    assert [r.url.host for r in network.requests] == ["localhost"]  # the ping only


async def test_a_passing_5xx_on_the_upload_starts_the_blob_over(
    world: tuple[FakeRegistry, FakeRegistry, FakeNetwork],
) -> None:
    source, target, network = world
    digest = source.image("demo/app", "v1", [b"layer once refused"])
    refused = {"n": 0}

    def refuse_first_commit(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT" and "/blobs/uploads/" in request.url.path and not refused["n"]:
            refused["n"] += 1
            return httpx.Response(503)
        return None

    target.token = None
    target.faults.append(refuse_first_commit)
    src, dst = fake_client(network, "src.test"), fake_client(network, "dst.test")
    await _copy(src, dst, "v1", digest)
    assert refused["n"] == 1
    assert target.tags["mirror/app"]["v1"] == digest


async def test_a_refused_mount_falls_back_to_an_upload() -> None:
    registry = FakeRegistry(host="one.test")
    network = FakeNetwork(registry)
    digest = registry.image("demo/app", "v1", [b"layer"])

    def no_mounts(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and "mount" in request.url.params:
            return httpx.Response(400, json={"errors": [{"code": "UNSUPPORTED"}]})
        return None

    registry.faults.append(no_mounts)
    src = fake_client(network, "one.test", actions=PULL)
    dst = fake_client(network, "one.test")
    copier = await _copy(src, dst, "v1", digest)
    assert copier.stats.blobs_streamed == 2
    assert registry.tags["mirror/app"]["v1"] == digest


@pytest.mark.parametrize(
    ("realm_host", "allowed"), [("127.0.0.1", True), ("[::1]", True), ("x.localhost", False)]
)
async def test_a_plain_http_realm_on_a_loopback_address_may_have_credentials(
    ca: Pki, realm_host: str, allowed: bool
) -> None:
    """Loopback traffic never leaves the host: by address, not by a name (issue 16)."""
    network = FakeNetwork(pki=ca, ipv6=True)
    await network.web.start()
    port = network.web.ipv6_port if realm_host == "[::1]" else network.web.port
    challenge = f'Bearer realm="http://{realm_host}:{port}/token",service="x"'
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            seen.append(request.headers.get("authorization", ""))
            return httpx.Response(200, json={"token": "t0ken"})
        if request.headers.get("authorization") != "Bearer t0ken":
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return httpx.Response(200, json={"name": "demo/app", "tags": ["v1"]})

    for host in ("localhost", f"127.0.0.1:{network.web.port}", f"[::1]:{network.web.ipv6_port}"):
        network.hosts[host] = handler
    auth = RegistryAuth(Credentials("alice", "secret1"))
    client = RegistryClient(parse_registry("https://localhost"), network.session(), auth)
    if allowed:
        assert await list_tags(client, _repo(client, "demo/app")) == ["v1"]
        assert seen
        assert seen[0].startswith("Basic ")
    else:
        with pytest.raises(AuthError, match="not sent over plain HTTP"):
            await list_tags(client, _repo(client, "demo/app"))
        assert seen == []


def test_every_loopback_address_counts_as_loopback() -> None:
    assert is_loopback_address("127.0.0.5")
    assert is_loopback_address("[::1]")
    assert not is_loopback_address("x.localhost")  # a name can resolve anywhere


async def test_progress_hears_chunks_and_takes_back_a_failed_attempt(
    world: tuple[FakeRegistry, FakeRegistry, FakeNetwork],
) -> None:
    source, _target, network = world
    layer = bytes(range(256)) * 4096  # 1 MiB: several chunks
    digest = source.image("demo/app", "v1", [layer])
    source.truncate.add(sha256(layer))
    calls = {"n": 0}

    def once(request: httpx.Request) -> httpx.Response | None:
        if request.method == "GET" and request.url.path.endswith(sha256(layer)):
            calls["n"] += 1
            if calls["n"] > 1:
                source.truncate.clear()  # the second download is whole
        return None

    source.faults.append(once)
    heard: list[int] = []
    src, dst = fake_client(network, "src.test"), fake_client(network, "dst.test")
    copier = ImageCopier(
        src, dst, transfers=Transfers(), blob_slots=asyncio.Semaphore(4), on_bytes=heard.append
    )
    await copier.copy(_repo(src, "demo/app").tag("v1"), _repo(dst, "mirror/app").tag("v1"), digest)
    assert calls["n"] == 2
    assert any(n < 0 for n in heard)  # the broken download's chunks were taken back
    assert sum(n for n in heard if n > 0) > copier.stats.bytes
    assert sum(heard) == copier.stats.bytes
    assert copier.stats.bytes > len(layer)  # the layer and the config
