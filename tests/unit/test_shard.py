"""Shards: parsing the flag and the environment, the stable hash, balance and membership."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from dregsy.shard import Shard, ShardError, Share, jump_hash, owner, parse_shard, shard_from

# Published test vectors of the jump consistent hash (shared by its Go, C, Python and
# Elixir implementations): (key, buckets, bucket).
JUMP_VECTORS = [
    (1, 1, 0),
    (42, 57, 43),
    (0xDEAD10CC, 1, 0),
    (0xDEAD10CC, 666, 361),
    (256, 1024, 520),
    (1, 128, 55),
    (129, 128, 120),
    (2**64 - 1, 128, 92),
    (128, 100_000_000, 38_172_097),
]


@pytest.mark.parametrize(("key", "buckets", "bucket"), JUMP_VECTORS)
def test_jump_hash_matches_the_published_vectors(key: int, buckets: int, bucket: int) -> None:
    assert jump_hash(key, buckets) == bucket


def test_owner_is_pinned() -> None:
    """Replicas of different versions must agree: these values may never change."""
    owners = [owner("mirror", f"team/svc-{i:02d}", 3) for i in range(12)]
    assert owners == [1, 0, 0, 0, 2, 0, 0, 1, 1, 0, 1, 1]
    assert owner("mirror", "team/svc-00", 1) == 0


def test_the_task_is_part_of_the_unit() -> None:
    repos = [f"ns/repo-{i}" for i in range(200)]
    first = [owner("a", r, 4) for r in repos]
    second = [owner("b", r, 4) for r in repos]
    assert first != second


@pytest.mark.parametrize("count", [2, 3, 4, 8, 16])
def test_shards_stay_balanced(count: int) -> None:
    repos = [f"library/image-{i}" for i in range(3000)]
    sizes = Counter(owner("hub", r, count) for r in repos)
    mean = len(repos) / count
    assert set(sizes) == set(range(count))
    assert max(sizes.values()) <= 1.5 * mean
    assert min(sizes.values()) >= 0.5 * mean


def test_one_more_shard_moves_only_its_share() -> None:
    """N -> N + 1: a unit either stays or moves to the new shard, about 1/(N + 1) of them."""
    repos = [f"org/r{i}" for i in range(4000)]
    before = [owner("t", r, 4) for r in repos]
    after = [owner("t", r, 5) for r in repos]
    moved = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    assert all(a == 4 for _, a in moved)
    assert 0.15 < len(moved) / len(repos) < 0.25


def test_every_unit_has_exactly_one_shard() -> None:
    shards = [Shard(i, 5) for i in range(5)]
    for i in range(500):
        assert sum(s.owns("task", f"r/{i}") for s in shards) == 1


@pytest.mark.parametrize(
    ("text", "shard"),
    [("0/1", Shard(0, 1)), ("2/4", Shard(2, 4)), (" 3/4 ", Shard(3, 4)), ("07/10", Shard(7, 10))],
)
def test_parse(text: str, shard: Shard) -> None:
    assert parse_shard(text) == shard
    assert str(shard) == f"{shard.index}/{shard.count}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "-shard=: expected I/N"),
        ("2", "-shard=2: expected I/N"),
        ("a/b", "-shard=a/b: expected I/N"),
        ("-1/3", "-shard=-1/3: expected I/N"),
        ("1/3/4", "expected I/N"),
        ("1.0/3", "expected I/N"),
        ("0/0", "-shard=0/0: the number of shards N must be at least 1"),
        ("3/3", "-shard=3/3: shard 3 does not exist: with 3 shard(s), I is 0 to 2"),
        ("9/4", "shard 9 does not exist"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ShardError, match=re.escape(message)):
        parse_shard(text)


def test_no_sharding_by_default() -> None:
    assert shard_from(None, {}, "dregsy-3") is None
    assert shard_from(None, {"JOB_COMPLETION_INDEX": "2"}, "dregsy-3") is None
    assert shard_from(None, {"DREGSY_SHARD": " "}, "host") is None


def test_sources_in_order() -> None:
    env = {"DREGSY_SHARD": "1/2", "DREGSY_SHARDS": "8", "JOB_COMPLETION_INDEX": "5"}
    assert shard_from("0/3", env, "dregsy-7") == Shard(0, 3)  # the flag first
    assert shard_from(None, env, "dregsy-7") == Shard(1, 2)  # then DREGSY_SHARD
    del env["DREGSY_SHARD"]
    assert shard_from(None, env, "dregsy-7") == Shard(5, 8)  # an Indexed Job's index
    del env["JOB_COMPLETION_INDEX"]
    assert shard_from(None, env, "dregsy-7") == Shard(7, 8)  # a StatefulSet's ordinal
    assert shard_from(None, env, "my-mirror-dregsy-0") == Shard(0, 8)
    assert shard_from(None, env, "dregsy-6.dregsy.sync.svc.cluster.local") == Shard(6, 8)


@pytest.mark.parametrize(
    ("env", "hostname", "message"),
    [
        ({"DREGSY_SHARD": "4/4"}, "h", "DREGSY_SHARD=4/4: shard 4 does not exist"),
        ({"DREGSY_SHARDS": "0", "JOB_COMPLETION_INDEX": "0"}, "h", "at least 1"),
        ({"DREGSY_SHARDS": "four"}, "dregsy-1", "DREGSY_SHARDS=four: expected the number"),
        (
            {"DREGSY_SHARDS": "3", "JOB_COMPLETION_INDEX": "3"},
            "h",
            "JOB_COMPLETION_INDEX=3 with DREGSY_SHARDS=3: shard 3 does not exist",
        ),
        ({"DREGSY_SHARDS": "3", "JOB_COMPLETION_INDEX": "x"}, "h", "expected a number"),
        ({"DREGSY_SHARDS": "3"}, "dregsy-5", r"host name dregsy-5 \(ordinal 5\)"),
        ({"DREGSY_SHARDS": "3"}, "build-box", "which shard is this.*'build-box'"),
    ],
)
def test_environment_errors(env: dict[str, str], hostname: str, message: str) -> None:
    with pytest.raises(ShardError, match=message):
        shard_from(None, env, hostname)


def test_share_counts_what_it_keeps() -> None:
    share = Share("mirror", Shard(1, 3))
    repos = [f"team/svc-{i:02d}" for i in range(12)]
    kept = [r for r in repos if share.keeps(r)]
    assert kept == [r for r in repos if owner("mirror", r, 3) == 1]
    share.keeps(repos[0])  # seen twice (two mappings): counted once
    assert share.summary() == f"shard 1/3: {len(kept)} of 12 repositories"
    everything = Share("mirror", None)
    assert all(everything.keeps(r) for r in repos)


def test_share_summary_groups_thousands() -> None:
    share = Share("t", Shard(0, 1))
    for i in range(1234):
        share.keeps(f"r{i}")
    assert share.summary() == "shard 0/1: 1,234 of 1,234 repositories"
