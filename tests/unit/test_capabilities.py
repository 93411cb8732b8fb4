from __future__ import annotations

import pytest

from dregsy.config.types import Config, Location, Mapping, RelayKind, Task
from dregsy.reference import parse_registry
from dregsy.relays.capabilities import capability_problems
from dregsy.selection.tagset import TagSelection

DIGEST = "sha256:" + "d" * 64

MAPPINGS = (
    Mapping("a", "a"),
    Mapping("b", "b", platform="all"),
    Mapping("c", "c", platforms=("linux/amd64",)),
    Mapping("d", "d", platform="linux/arm64"),
    Mapping("e", "e", tags=TagSelection.parse(["regex: v.*", DIGEST, f"v2@{DIGEST}"])),
)


def _config(relay: RelayKind) -> Config:
    registry = parse_registry("127.0.0.1:5000")
    task = Task("t", Location(registry), Location(registry), MAPPINGS)
    return Config((task,), relay=relay, relay_reason=f"relay: {relay}")


@pytest.mark.parametrize(
    ("relay", "paths"),
    [
        (RelayKind.NATIVE, []),
        (
            RelayKind.DOCKER,
            ["tasks[0].mappings[1].platform", "tasks[0].mappings[2].platforms"],
        ),
        # digests without a tag: skopeo pushes by digest, the daemon as `dregsy-<hex>`
        (RelayKind.SKOPEO, ["tasks[0].mappings[2].platforms"]),
    ],
)
def test_what_each_relay_refuses(relay: RelayKind, paths: list[str]) -> None:
    problems = capability_problems(_config(relay))
    assert [p.path for p in problems] == paths
    assert all(f"(selected by relay: {relay})" in p.message for p in problems)


@pytest.mark.parametrize(
    ("relay", "refused"),
    [(RelayKind.NATIVE, True), (RelayKind.SKOPEO, True), (RelayKind.DOCKER, False)],
)
def test_a_digest_without_tag_cannot_take_a_platform_where_it_is_pushed_by_digest(
    relay: RelayKind, refused: bool
) -> None:
    registry = parse_registry("127.0.0.1:5000")
    mapping = Mapping("d", "d", platform="linux/arm64", tags=TagSelection.parse([DIGEST]))
    task = Task("t", Location(registry), Location(registry), (mapping,))
    config = Config((task,), relay=relay, relay_reason=f"relay: {relay}")
    paths = [p.path for p in capability_problems(config)]
    assert paths == (["tasks[0].mappings[0].tags[0]"] if refused else [])
