from __future__ import annotations

import json

from dregsy.config.types import Mapping
from dregsy.copy.plan import TagAction
from dregsy.relays.base import CopyOutcome, ImageJob, Relay
from dregsy.sync.decide import Decider
from tests.support.fake_registry import FakeNetwork, FakeRegistry, fake_client


class RewritingRelay(Relay):
    """Stands for the Docker relay: it rewrites manifests, so configs are compared."""

    name = "rewriting"
    preserves_digests = False
    uses_new_repositories = False
    default_platform = "linux/amd64"

    async def prepare(self) -> None:
        return None

    def new_run(self) -> object:
        return None

    async def copy(self, job: ImageJob, run: object) -> CopyOutcome:
        raise AssertionError("not called")

    async def aclose(self) -> None:
        return None


async def test_a_config_match_is_remembered_while_both_digests_stay() -> None:
    source, target = FakeRegistry(host="src.test"), FakeRegistry(host="dst.test")
    network = FakeNetwork(source, target)
    digest = source.image("demo/app", "v1", [b"layer"])
    media_type, raw = source.manifests["demo/app"][digest]
    rewritten = json.loads(raw)
    rewritten["layers"] = [
        {"mediaType": "x", "digest": target.put_blob("mirror/app", b"recompressed"), "size": 12}
    ]
    target.put_manifest("mirror/app", media_type, json.dumps(rewritten).encode(), "v1")
    src, dst = fake_client(network, "src.test"), fake_client(network, "dst.test")
    decider = Decider(RewritingRelay())
    mapping = Mapping("demo/app", "mirror/app")
    src_ref = src.registry.repository("demo/app").tag("v1")
    dst_ref = dst.registry.repository("mirror/app").tag("v1")

    first = await decider.decide(src, dst, src_ref, dst_ref, mapping)
    assert (first.action, first.reason) == (TagAction.SKIP, "same image config")
    gets = [p for m, p in source.log + target.log if m == "GET" and "/manifests/" in p]
    assert gets  # the first run compares the configs

    source.log.clear()
    target.log.clear()
    second = await decider.decide(src, dst, src_ref, dst_ref, mapping)
    assert second.action is TagAction.SKIP
    assert [m for m, _ in source.log + target.log] == ["HEAD", "HEAD"]

    # a changed source (another image config) is compared again, and now differs
    source.tags["demo/app"]["v1"] = source.image("demo/app", "other", [b"new layer"])
    third = await decider.decide(src, dst, src_ref, dst_ref, mapping)
    assert third.action is TagAction.COPY
