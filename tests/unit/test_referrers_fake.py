"""Referrers against in-memory registries: the referrers API (which distribution 2.8 lacks)
on either side, artifactType filters, the no-op cost, and concurrent writers of a
fallback index (with and without ETags)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import httpx
import pytest

from dregsy.config.types import ReferrerSettings
from dregsy.copy.engine import ImageCopier
from dregsy.copy.referrers import ReferrerCopier, ReferrerMemory
from dregsy.copy.transfers import Transfers
from dregsy.reference import Repository
from dregsy.registry.client import PULL, RegistryClient
from dregsy.registry.referrers import ReferrersSupport
from tests.support.artifacts import (
    SPDX_JSON,
    Artifact,
    cosign_signature,
    fallback_tag,
    notation_signature,
    referrers_index,
    spdx_sbom,
    subject_of,
)
from tests.support.fake_registry import FakeNetwork, FakeRegistry, fake_client

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EVERYTHING = ReferrerSettings(referrers=True)


@dataclass
class Signed:
    index: str
    child: str
    sig: Artifact
    sbom: Artifact
    sbom_sig: Artifact


def _put(reg: FakeRegistry, repo: str, item: Artifact) -> None:
    for data in item.blobs.values():
        reg.put_blob(repo, data)
    reg.put_manifest(repo, MANIFEST, item.manifest)


def _seed(reg: FakeRegistry, *, fallback: bool) -> Signed:
    """demo/app:v1, an index of two images: a cosign signature on the index, an SBOM on
    the first image, a notation signature on the SBOM (fallback indexes if asked)."""
    children = [reg.image("demo/app", f"c{i}", [b"layer-%d" % i]) for i in range(2)]
    raws = [reg.manifests["demo/app"][d][1] for d in children]
    doc = {
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [
            {"mediaType": MANIFEST, "digest": d, "size": len(r)}
            for d, r in zip(children, raws, strict=True)
        ],
    }
    index_raw = json.dumps(doc).encode()
    index = reg.put_manifest("demo/app", INDEX, index_raw, "v1")
    sig = cosign_signature(subject_of(index, index_raw, INDEX), identity="src.test/demo/app")
    sbom = spdx_sbom(subject_of(children[0], raws[0]), "app")
    sbom_sig = notation_signature(subject_of(sbom.digest, sbom.manifest))
    for item in (sig, sbom, sbom_sig):
        _put(reg, "demo/app", item)
    if fallback:
        for subject, items in ((index, [sig]), (children[0], [sbom]), (sbom.digest, [sbom_sig])):
            reg.put_manifest("demo/app", INDEX, referrers_index(items), fallback_tag(subject))
    return Signed(index, children[0], sig, sbom, sbom_sig)


def _listed(reg: FakeRegistry, repo: str, subject: str) -> list[str]:
    digest = reg.tags.get(repo, {}).get(fallback_tag(subject))
    if digest is None:
        return []
    return [e["digest"] for e in json.loads(reg.manifests[repo][digest][1])["manifests"]]


class World:
    def __init__(self, source: FakeRegistry, target: FakeRegistry) -> None:
        self.source, self.target = source, target
        self.network = FakeNetwork(source, target)
        self.src = fake_client(self.network, source.host, actions=PULL)
        self.dst = fake_client(self.network, target.host)
        self.memory = ReferrerMemory()

    def repos(self) -> tuple[Repository, Repository]:
        return _repo(self.src, "demo/app"), _repo(self.dst, "mirror/app")

    def copier(self, settings: ReferrerSettings = EVERYTHING) -> tuple[ImageCopier, ReferrerCopier]:
        images = ImageCopier(
            self.src, self.dst, transfers=Transfers(), blob_slots=asyncio.Semaphore(4)
        )
        return images, ReferrerCopier(images, self.src, self.dst, settings, self.memory)

    async def sync(self, digest: str, settings: ReferrerSettings = EVERYTHING) -> ReferrerCopier:
        images, referrers = self.copier(settings)
        src, dst = self.repos()
        pushed = await images.copy(src.tag("v1"), dst.tag("v1"), digest)
        await referrers.after_copy(src, dst, pushed.manifest)
        return referrers

    async def check(self, digest: str) -> ReferrerCopier:
        _, referrers = self.copier()
        await referrers.after_skip(*self.repos(), digest)
        return referrers

    def requests(self, host: str) -> list[tuple[str, str]]:
        return [(r.method, r.url.path) for r in self.network.requests if r.url.host == host]


def _repo(client: RegistryClient, path: str) -> Repository:
    return client.registry.repository(path)


def _has(reg: FakeRegistry, item: Artifact) -> bool:
    stored = reg.manifests.get("mirror/app", {}).get(item.digest)
    return stored is not None and stored[1] == item.manifest


@pytest.mark.parametrize("source_api", [True, False], ids=["source-api", "source-fallback"])
async def test_to_a_target_with_the_referrers_api(source_api: bool) -> None:
    source = FakeRegistry(host="src.test", referrers_api=source_api)
    target = FakeRegistry(host="dst.test", referrers_api=True)
    signed = _seed(source, fallback=not source_api)
    world = World(source, target)
    referrers = await world.sync(signed.index)
    assert referrers.copied == 3
    for item in (signed.sig, signed.sbom, signed.sbom_sig):
        assert _has(target, item)
    # the target lists them itself (it answered OCI-Subject): no fallback tags written
    assert not [t for t in target.tags.get("mirror/app", {}) if t.startswith("sha256-")]
    listing = world.network.hosts["dst.test"](
        httpx.Request("GET", f"https://dst.test/v2/mirror/app/referrers/{signed.index}")
    )
    assert [e["digest"] for e in listing.json()["manifests"]] == [signed.sig.digest]
    src_paths = [path for _, path in world.requests("src.test")]
    uses_api = any("/referrers/" in p for p in src_paths)
    reads_tags = any(fallback_tag(signed.index) in p for p in src_paths)
    assert (uses_api, reads_tags) == ((True, False) if source_api else (True, True))


async def test_from_the_api_to_a_target_without_it_writes_fallback_indexes() -> None:
    source = FakeRegistry(host="src.test", referrers_api=True)
    target = FakeRegistry(host="dst.test")
    signed = _seed(source, fallback=False)
    world = World(source, target)
    await world.sync(signed.index)
    assert _listed(target, "mirror/app", signed.index) == [signed.sig.digest]
    assert _listed(target, "mirror/app", signed.child) == [signed.sbom.digest]
    assert _listed(target, "mirror/app", signed.sbom.digest) == [signed.sbom_sig.digest]
    entry = json.loads(
        target.manifests["mirror/app"][target.tags["mirror/app"][fallback_tag(signed.child)]][1]
    )["manifests"][0]
    assert entry["artifactType"] == SPDX_JSON
    assert entry["annotations"] == signed.sbom.annotations


async def test_referrer_types_restrict_what_is_copied() -> None:
    source = FakeRegistry(host="src.test", referrers_api=True)
    target = FakeRegistry(host="dst.test")
    signed = _seed(source, fallback=False)
    world = World(source, target)
    await world.sync(signed.index, ReferrerSettings(referrers=True, types=(SPDX_JSON,)))
    assert _has(target, signed.sbom)
    assert not _has(target, signed.sig)
    assert not _has(target, signed.sbom_sig)
    assert _listed(target, "mirror/app", signed.child) == [signed.sbom.digest]
    assert _listed(target, "mirror/app", signed.index) == []


@pytest.mark.parametrize("target_api", [True, False], ids=["target-api", "target-fallback"])
async def test_an_unchanged_image_costs_one_request_per_registry(target_api: bool) -> None:
    source = FakeRegistry(host="src.test", referrers_api=True)
    target = FakeRegistry(host="dst.test", referrers_api=target_api)
    signed = _seed(source, fallback=False)
    world = World(source, target)
    await world.sync(signed.index)
    world.network.requests.clear()
    assert (await world.check(signed.index)).copied == 0
    assert world.requests("src.test") == [("GET", f"/v2/demo/app/referrers/{signed.index}")]
    looked_at = (
        f"/v2/mirror/app/referrers/{signed.index}"
        if target_api
        else f"/v2/mirror/app/manifests/{fallback_tag(signed.index)}"
    )
    assert world.requests("dst.test") == [("GET", looked_at)]

    # a signature added to the unchanged image arrives with the next check
    index_raw = source.manifests["demo/app"][signed.index][1]
    added = notation_signature(subject_of(signed.index, index_raw, INDEX))
    _put(source, "demo/app", added)
    assert (await world.check(signed.index)).copied == 1
    assert _has(target, added)
    if not target_api:
        assert _listed(target, "mirror/app", signed.index) == [signed.sig.digest, added.digest]


@pytest.mark.parametrize("etags", [True, False], ids=["if-match", "re-read"])
async def test_another_writer_between_read_and_push_is_kept(etags: bool) -> None:
    source = FakeRegistry(host="src.test", referrers_api=True)
    target = FakeRegistry(host="dst.test", etags=etags)
    signed = _seed(source, fallback=False)
    world = World(source, target)
    tag = fallback_tag(signed.index)
    index_raw = source.manifests["demo/app"][signed.index][1]
    theirs = notation_signature(subject_of(signed.index, index_raw, INDEX))
    raced: list[str] = []

    def other_writer(request: httpx.Request) -> httpx.Response | None:
        # With ETags: just before our PUT lands; without: at our re-read before the PUT.
        method = "PUT" if etags else "HEAD"
        ours = request.method == method and request.url.path.endswith(f"/manifests/{tag}")
        if ours and not raced:
            raced.append(request.method)
            _put(target, "mirror/app", theirs)
            target.put_manifest("mirror/app", INDEX, referrers_index([theirs]), tag)
        return None

    target.faults.append(other_writer)
    await world.sync(signed.index)
    assert raced
    assert _listed(target, "mirror/app", signed.index) == [theirs.digest, signed.sig.digest]


async def test_a_stale_entry_of_the_source_index_is_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FakeRegistry(host="src.test")
    target = FakeRegistry(host="dst.test")
    signed = _seed(source, fallback=True)
    index_raw = source.manifests["demo/app"][signed.index][1]
    gone = notation_signature(subject_of(signed.index, index_raw, INDEX))  # never pushed
    tag = fallback_tag(signed.index)
    source.put_manifest("demo/app", INDEX, referrers_index([gone, signed.sig]), tag)
    world = World(source, target)
    await world.sync(signed.index)
    assert _has(target, signed.sig)
    assert _listed(target, "mirror/app", signed.index) == [signed.sig.digest]
    assert "is listed at the source but not there; left out" in caplog.text


async def test_a_registry_answering_405_for_the_referrers_route_has_no_api() -> None:
    source = FakeRegistry(host="src.test")
    source.faults.append(lambda r: httpx.Response(405) if "/referrers/" in r.url.path else None)
    target = FakeRegistry(host="dst.test")
    signed = _seed(source, fallback=True)
    world = World(source, target)
    await world.sync(signed.index)
    assert _listed(target, "mirror/app", signed.sbom.digest) == [signed.sbom_sig.digest]


async def test_periodic_runs_remember_indexes_that_agree() -> None:
    """Both without the API, the target listing one more (another writer's) entry: the
    first check reads both indexes; the next (same process) stops at the two HEADs."""
    source, target = FakeRegistry(host="src.test"), FakeRegistry(host="dst.test")
    signed = _seed(source, fallback=True)
    world = World(source, target)
    await world.sync(signed.index)
    index_raw = source.manifests["demo/app"][signed.index][1]
    theirs = notation_signature(subject_of(signed.index, index_raw, INDEX))
    _put(target, "mirror/app", theirs)
    tag = fallback_tag(signed.index)
    target.put_manifest("mirror/app", INDEX, referrers_index([signed.sig, theirs]), tag)
    world.network.requests.clear()
    assert (await world.check(signed.index)).copied == 0
    assert [m for m, _ in world.requests("dst.test")] == ["HEAD", "GET"]
    world.network.requests.clear()
    assert (await world.check(signed.index)).copied == 0
    assert world.requests("src.test") == [("HEAD", f"/v2/demo/app/manifests/{tag}")]
    assert world.requests("dst.test") == [("HEAD", f"/v2/mirror/app/manifests/{tag}")]


async def test_a_new_cosign_signature_of_an_unchanged_image_arrives() -> None:
    source, target = FakeRegistry(host="src.test"), FakeRegistry(host="dst.test")
    signed = _seed(source, fallback=True)
    world = World(source, target)
    tags = ReferrerSettings(digest_tags=True)
    sig_tag = fallback_tag(signed.index) + ".sig"
    first = cosign_signature(subject_of(signed.index, b"", INDEX), identity="a")
    _put(source, "demo/app", first)
    source.tags["demo/app"][sig_tag] = first.digest
    await world.sync(signed.index, tags)
    assert target.tags["mirror/app"][sig_tag] == first.digest
    # cosign signs again: the tag moves to a manifest with both signatures
    again = cosign_signature(subject_of(signed.index, b"", INDEX), identity="b")
    _put(source, "demo/app", again)
    source.tags["demo/app"][sig_tag] = again.digest
    _, referrers = world.copier(tags)
    await referrers.after_skip(*world.repos(), signed.index)
    assert target.tags["mirror/app"][sig_tag] == again.digest
    assert not any(fallback_tag(signed.index) == t for t in target.tags["mirror/app"])


async def test_an_unknown_repository_does_not_decide_whether_the_api_is_served() -> None:
    """An API registry's 404 NAME_UNKNOWN (a repository it does not know) is no answer to
    "does it serve the API"; a route's plain 404 is."""
    with_api = FakeRegistry(host="api.test", referrers_api=True)
    signed = _seed(with_api, fallback=False)
    without = FakeRegistry(host="old.test")
    network = FakeNetwork(with_api, without)
    client = fake_client(network, "api.test", actions=PULL)
    support = ReferrersSupport()
    nowhere = _repo(client, "no/such/repo")
    assert await support.list(client, nowhere, signed.index) is None  # read the tag instead
    assert support.serves_api(client) is None
    found = await support.list(client, _repo(client, "demo/app"), signed.index)
    assert [e.digest for e in found or []] == [signed.sig.digest]
    assert support.serves_api(client) is True
    assert await support.list(client, nowhere, signed.index) == []
    old = fake_client(network, "old.test", actions=PULL)
    assert await support.list(old, _repo(old, "demo/app"), signed.index) is None
    assert support.serves_api(old) is False
