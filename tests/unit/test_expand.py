"""From a mapping to (source, target) pairs: listed repositories, tags, digests."""

from __future__ import annotations

import logging

import pytest

from dregsy.config.types import ListerSettings, Location, Mapping, ReferrerSettings, Task
from dregsy.errors import DregsyError
from dregsy.listers.base import RepositoryLister
from dregsy.listers.cache import RepositoryLists
from dregsy.reference import parse_registry
from dregsy.registry.client import PULL
from dregsy.selection.filters import TagRef
from dregsy.selection.paths import RepoRule, Rewrite, SourcePattern
from dregsy.selection.tagset import TagSelection
from dregsy.sync.expand import (
    RepoPair,
    UnmappableRepository,
    references,
    repository_pairs,
    tag_refs,
)
from tests.support.fake_registry import FakeNetwork, FakeRegistry, fake_client

SOURCE = Location(parse_registry("src.test"))
TARGET = Location(parse_registry("dst.test"))
DIGEST = "sha256:" + "d" * 64


class Listed:
    def __init__(self, names: list[str]) -> None:
        self.names = names

    async def repositories(self, limit: int | None) -> list[str]:
        return self.names


def _lists(names: list[str]) -> RepositoryLists:
    async def make(_: Location) -> RepositoryLister:
        return Listed(names)

    return RepositoryLists(make, ListerSettings())


def _task(*mappings: Mapping) -> Task:
    return Task("t", SOURCE, TARGET, mappings)


async def test_plain_mapping_is_one_pair_and_needs_no_lister() -> None:
    mapping = Mapping("demo/app", "mirror/app")
    (pair,) = await repository_pairs(_task(mapping), mapping, None)
    assert isinstance(pair, RepoPair)
    assert (str(pair.source), str(pair.target)) == ("src.test/demo/app", "dst.test/mirror/app")


async def test_regex_mapping_pairs_each_matching_repository() -> None:
    rule = RepoRule(SourcePattern.parse("regex:team/.*"), Rewrite.parse("regex:^/team/(.*),/M$1"))
    mapping = Mapping("regex:team/.*", "regex:...", repos=rule)
    lists = _lists(["team/a", "other/c", "team/b", "teams/x"])
    found = await repository_pairs(_task(mapping), mapping, lists)
    assert [str(p) for p in found if isinstance(p, DregsyError)] == [
        "team/a -> '/Ma': invalid repository path '/Ma' (repository names must be lower-case)",
        "team/b -> '/Mb': invalid repository path '/Mb' (repository names must be lower-case)",
    ]
    prefix = Mapping("regex:team/.*", "mirror", repos=RepoRule(rule.source, "mirror"))
    pairs = await repository_pairs(_task(prefix), prefix, lists)
    assert [(p.source.path, p.target.path) for p in pairs if isinstance(p, RepoPair)] == [
        ("team/a", "mirror/team/a"),
        ("team/b", "mirror/team/b"),
    ]
    # a target `registry: host/path` puts every listed repository under that path too
    task = Task("t", SOURCE, Location(TARGET.registry, prefix="site/b"), (prefix,))
    pairs = await repository_pairs(task, prefix, lists)
    assert [p.target.path for p in pairs if isinstance(p, RepoPair)] == [
        "site/b/mirror/team/a",
        "site/b/mirror/team/b",
    ]


async def test_no_matching_repository_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    mapping = Mapping("regex:x/.*", "regex:x/.*", repos=RepoRule(SourcePattern.parse("regex:x/.*")))
    with caplog.at_level(logging.WARNING):
        assert await repository_pairs(_task(mapping), mapping, _lists(["a/b"])) == []
    assert "none of the 1 repositories listed on src.test matches" in caplog.text
    with pytest.raises(DregsyError, match="lister"):
        await repository_pairs(_task(mapping), mapping, None)


async def test_tags_are_listed_only_when_the_selection_needs_them() -> None:
    registry = FakeRegistry(host="src.test")
    for tag in ("v1.0.0", "v2.0.0", "latest"):
        registry.image("demo/app", tag, [tag.encode()])
    network = FakeNetwork(registry)
    client = fake_client(network, "src.test", actions=PULL)
    pair = RepoPair(SOURCE.registry.repository("demo/app"), TARGET.registry.repository("m/app"))

    verbatim = Mapping("demo/app", "m/app", TagSelection.parse(["v1.0.0", DIGEST]))
    assert [r.text for r in await tag_refs(client, pair, verbatim)] == [DIGEST, "v1.0.0"]
    assert not any(r.url.path.endswith("/tags/list") for r in network.requests)

    newest = Mapping("demo/app", "m/app", TagSelection.parse(["keep: latest 1"]))
    assert [r.text for r in await tag_refs(client, pair, newest)] == ["latest", "v2.0.0"]
    assert [r.text for r in await tag_refs(client, pair, Mapping("demo/app", "m/app"))] == [
        "latest",
        "v1.0.0",
        "v2.0.0",
    ]


def test_references_read_digests_by_digest() -> None:
    src = SOURCE.registry.repository("demo/app")
    dst = TARGET.registry.repository("m/app")
    plain = references(TagRef.listed("v1"), src, dst)
    assert [str(r) for r in plain] == ["src.test/demo/app:v1", "dst.test/m/app:v1"]
    named = references(TagRef(f"v9@{DIGEST}", tag="v9", digest=DIGEST), src, dst)
    assert [str(r) for r in named] == [f"src.test/demo/app@{DIGEST}", "dst.test/m/app:v9"]
    pinned = references(TagRef(DIGEST, digest=DIGEST), src, dst)
    assert [str(r) for r in pinned] == [f"src.test/demo/app@{DIGEST}", f"dst.test/m/app@{DIGEST}"]
    # the target of a digest-only entry has no tag: manifests are pushed under the digest
    assert (pinned[1].tag, pinned[1].identifier) == (None, DIGEST)
    # a relay that cannot push by digest (Docker) gets dregsy's tag `dregsy-<hex>`
    tagged = references(TagRef(DIGEST, digest=DIGEST), src, dst, by_digest=False)
    hex_part = DIGEST.removeprefix("sha256:")
    assert [str(r) for r in tagged] == [
        f"src.test/demo/app@{DIGEST}",
        f"dst.test/m/app:dregsy-{hex_part}",
    ]
    named_docker = references(TagRef(f"v9@{DIGEST}", tag="v9", digest=DIGEST), src, dst)
    assert named_docker == named


@pytest.mark.parametrize(
    ("referrers", "expected"),
    [
        (ReferrerSettings(referrers=True), ["v1", "sha256-x"]),
        (ReferrerSettings(digest_tags=True), ["v1", "sha256-x"]),
        (ReferrerSettings(), ["v1", "sha256-x", f"sha256-{'e' * 64}", f"sha256-{'e' * 64}.sig"]),
    ],
)
async def test_referrer_tags_travel_with_their_images(
    referrers: ReferrerSettings, expected: list[str]
) -> None:
    """With referrers or digest-tags, fallback and cosign tags are not images of their own."""
    registry = FakeRegistry(host="src.test")
    for tag in ("v1", "sha256-x", f"sha256-{'e' * 64}", f"sha256-{'e' * 64}.sig"):
        registry.image("demo/app", tag, [b"x"])
    client = fake_client(FakeNetwork(registry), "src.test", actions=PULL)
    pair = RepoPair(SOURCE.registry.repository("demo/app"), TARGET.registry.repository("m"))
    refs = await tag_refs(client, pair, Mapping("demo/app", "m", referrers=referrers))
    assert sorted(str(ref.tag) for ref in refs) == sorted(expected)


async def test_an_unmappable_repository_is_keyed_like_a_pair() -> None:
    """Its shard key is the source path as a RepoPair has it (Docker Hub's library/)."""
    hub = Location(parse_registry("docker.io"))
    rule = RepoRule(SourcePattern.parse("regex:.*"), Rewrite.parse("regex:^/(.*),/M$1"))
    mapping = Mapping("regex:.*", "regex:...", repos=rule)
    found = await repository_pairs(Task("t", hub, TARGET, (mapping,)), mapping, _lists(["nginx"]))
    (error,) = found
    assert isinstance(error, UnmappableRepository)
    assert error.path == "library/nginx"
