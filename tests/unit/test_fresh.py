"""New target repositories: asked once per run, and only what a 404 tag list says is new."""

from __future__ import annotations

import asyncio

import httpx

from dregsy.sync.fresh import NewRepositories
from tests.support.fake_registry import FakeNetwork, FakeRegistry, fake_client


def _tag_lists(network: FakeNetwork) -> list[str]:
    return [r.url.path for r in network.requests if r.url.path.endswith("/tags/list")]


async def test_one_question_per_repository_however_many_images_ask() -> None:
    target = FakeRegistry(host="dst.test")
    target.image("mirror/old", "v1", [b"layer"])
    network = FakeNetwork(target)
    client = fake_client(network, "dst.test")
    fresh = NewRepositories()
    new = client.registry.repository("mirror/new")
    old = client.registry.repository("mirror/old")
    answers = await asyncio.gather(
        *(fresh.is_new(client, repo) for repo in (new, old, new, old, new))
    )
    assert answers == [True, False, True, False, True]
    assert sorted(_tag_lists(network)) == ["/v2/mirror/new/tags/list", "/v2/mirror/old/tags/list"]


async def test_a_registry_that_will_not_say_is_not_taken_for_new() -> None:
    target = FakeRegistry(host="dst.test")
    target.faults.append(
        lambda request: (
            httpx.Response(403, json={"errors": [{"code": "DENIED"}]})
            if request.url.path.endswith("/tags/list")
            else None
        )
    )
    network = FakeNetwork(target)
    client = fake_client(network, "dst.test")
    assert not await NewRepositories().is_new(client, client.registry.repository("mirror/x"))
