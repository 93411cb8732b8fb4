"""The Docker Hub and index listers against recorded answers served on 127.0.0.1."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from dregsy.config.types import ListerKind, ListerSpec, Location
from dregsy.credentials import Credentials
from dregsy.errors import AuthError, RegistryError
from dregsy.listers.base import HubEndpoints
from dregsy.listers.catalog import CatalogLister
from dregsy.listers.dockerhub import DockerHubLister
from dregsy.listers.factory import ListerFactory
from dregsy.listers.index import IndexLister
from dregsy.reference import parse_registry
from dregsy.registry.directory import RegistryDirectory
from dregsy.registry.pool import HttpPool, HttpSettings
from dregsy.registry.session import Session
from tests.support.recorded_hub import (
    HUB_TOKEN,
    HubData,
    RecordedHub,
    hub_repository,
    search_result,
)

ALICE = Credentials("alice", "secret1")


def hub_data() -> HubData:
    return HubData(
        users={"alice": "secret1"},
        repositories={
            "alice": [
                hub_repository("alice", "app"),
                hub_repository("alice", "tool", private=True),
                hub_repository("alice", "old-plugin", repository_type="plugin"),
                hub_repository("alice", "untyped", repository_type=None),
                hub_repository("alice", "web"),
            ]
        },
        searches={"alpine": [search_result("alpine", official=True), search_result("bob/alpine")]},
        page_size_cap=2,
    )


@pytest.fixture
def hub() -> Iterator[RecordedHub]:
    with RecordedHub(hub_data()) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[Session]:
    session = Session(
        tls=ssl.create_default_context, max_connections=4, connect_timeout=5, read_timeout=10
    )
    yield session
    await session.aclose()


async def test_dockerhub_lists_the_users_image_repositories_across_pages(
    hub: RecordedHub, http: Session
) -> None:
    lister = DockerHubLister(http, ALICE, base_url=hub.url)
    names = await lister.repositories(None)
    assert names == ["alice/app", "alice/tool", "alice/untyped", "alice/web"]
    login = hub.requests[0]
    assert (login.method, login.path) == ("POST", "/v2/users/login")
    assert login.body == {"username": "alice", "password": "secret1"}
    pages = [r for r in hub.requests if r.method == "GET"]
    assert len(pages) == 3  # 5 repositories, 2 per page
    assert pages[0].query["page_size"] == ["100"]
    assert {r.authorization for r in pages} == {f"Bearer {HUB_TOKEN}"}


async def test_dockerhub_stops_paging_at_the_limit(hub: RecordedHub, http: Session) -> None:
    names = await DockerHubLister(http, ALICE, base_url=hub.url).repositories(1)
    assert names == ["alice/app"]
    assert len(hub.paths("GET")) == 1


async def test_dockerhub_login_refused(hub: RecordedHub, http: Session) -> None:
    lister = DockerHubLister(http, Credentials("alice", "wrong"), base_url=hub.url)
    with pytest.raises(AuthError, match="Docker Hub refused the login of user 'alice'"):
        await lister.repositories(None)
    assert hub.paths("GET") == []


async def test_dockerhub_never_follows_next_to_another_host(http: Session) -> None:
    data = hub_data()
    data.next_host = "attacker.invalid:1"
    with RecordedHub(data) as hub:
        lister = DockerHubLister(http, ALICE, base_url=hub.url)
        with pytest.raises(RegistryError, match="another host"):
            await lister.repositories(None)


async def test_index_search_on_docker_hub(hub: RecordedHub, http: Session) -> None:
    lister = IndexLister(http, hub.url, "alpine")
    assert await lister.repositories(None) == ["alpine", "bob/alpine"]
    assert await lister.repositories(1) == ["alpine"]
    assert await lister.repositories(500) == ["alpine", "bob/alpine"]
    searches = [r for r in hub.requests if r.path == "/v1/search"]
    assert [r.query["n"] for r in searches] == [["100"], ["1"], ["100"]]
    assert {r.query["q"][0] for r in searches} == {"alpine"}
    assert {r.authorization for r in searches} == {None}


async def test_factory_picks_the_lister_of_the_location(hub: RecordedHub, tmp_path: Path) -> None:
    pool = HttpPool(HttpSettings(certs_dir=tmp_path))
    factory = ListerFactory(RegistryDirectory(pool), pool, HubEndpoints(hub.url, hub.url))
    hub_registry = parse_registry("docker.io")
    local = parse_registry(hub.url)
    try:
        dockerhub = Location(hub_registry, ALICE, lister=ListerSpec(ListerKind.DOCKERHUB))
        lister = await factory.lister_for(dockerhub)
        assert isinstance(lister, DockerHubLister)
        assert await lister.repositories(2) == ["alice/app", "alice/tool"]

        index = Location(hub_registry, lister=ListerSpec(ListerKind.INDEX, "alpine"))
        assert await (await factory.lister_for(index)).repositories(None) == [
            "alpine",
            "bob/alpine",
        ]
        # elsewhere an index search goes to the registry itself, with its credentials
        elsewhere = Location(local, ALICE, lister=ListerSpec(ListerKind.INDEX, "alpine"))
        assert await (await factory.lister_for(elsewhere)).repositories(None) == [
            "alpine",
            "bob/alpine",
        ]
        assert hub.requests[-1].authorization is not None
        assert hub.requests[-1].authorization.startswith("Basic ")

        catalog = Location(local)
        assert isinstance(await factory.lister_for(catalog), CatalogLister)
    finally:
        await pool.aclose()


def test_endpoints_from_the_environment() -> None:
    assert HubEndpoints.from_environ({}) == HubEndpoints()
    env = {"DREGSY_DOCKERHUB_URL": "http://127.0.0.1:1/", "DREGSY_INDEX_URL": "http://x:2"}
    assert HubEndpoints.from_environ(env) == HubEndpoints("http://127.0.0.1:1", "http://x:2")
