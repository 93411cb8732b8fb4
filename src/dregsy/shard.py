"""Shards: which replica syncs which work unit. Pure: parsing, hashing, membership.

N replicas each sync a deterministic share of the work and need no coordinator: the state
of a sync lives in the registries. A work unit is a (task name, source repository path)
pair, so the tags of one repository, and the blobs they share, stay on one replica.

The owner of a unit is the jump consistent hash (Lamping and Veach, 2014) of the first
8 bytes of SHA-256(task name, newline, repository path) into N buckets. SHA-256 makes it
the same in every process, version and machine (Python's `hash()` is salted per process);
jump hashing spreads keys as evenly as `key % N` does, and when N grows to N + 1 only
1/(N + 1) of the units change owner (with `% N` almost all would), so replicas of an old
and a new size running side by side during a rollout copy little twice.

Where the shard comes from, first match wins: `-shard=I/N`; `DREGSY_SHARD=I/N`;
`DREGSY_SHARDS=N` with `JOB_COMPLETION_INDEX` (an Indexed Job) or else the ordinal at the
end of the host name (`dregsy-3`: a StatefulSet pod).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from msgspec import Struct, field

from dregsy.errors import DregsyError

_SHARD = re.compile(r"(\d+)/(\d+)")
_NUMBER = re.compile(r"\d+")
_ORDINAL = re.compile(r"-(\d+)$")
_MASK64 = (1 << 64) - 1


class ShardError(DregsyError):
    """The shard given on the command line or in the environment is not usable."""


class Shard(Struct, frozen=True):
    """Shard `index` of `count` (0 <= index < count)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, task: str, repository: str) -> bool:
        """Whether this shard syncs the repository `repository` (a path) of task `task`."""
        return owner(task, repository, self.count) == self.index


class Share(Struct):
    """The repositories one task run found, and those of them this process syncs."""

    task: str
    shard: Shard | None  # None: not sharded, every repository is kept
    found: set[str] = field(default_factory=set)
    kept: set[str] = field(default_factory=set)

    def keeps(self, repository: str) -> bool:
        """Record `repository` (a path) as found; whether this process syncs it."""
        self.found.add(repository)
        if self.shard is not None and not self.shard.owns(self.task, repository):
            return False
        self.kept.add(repository)
        return True

    def summary(self) -> str:
        """E.g. `shard 2/4: 1,231 of 4,980 repositories`."""
        return f"shard {self.shard}: {len(self.kept):,} of {len(self.found):,} repositories"


def unit_key(task: str, repository: str) -> int:
    """The 64-bit key of a work unit: SHA-256 of the task name and repository path."""
    digest = hashlib.sha256(f"{task}\n{repository}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def jump_hash(key: int, buckets: int) -> int:
    """Lamping and Veach's jump consistent hash of a 64-bit `key` into `buckets` buckets."""
    bucket, candidate = -1, 0
    while candidate < buckets:
        bucket = candidate
        key = (key * 2862933555777941757 + 1) & _MASK64
        candidate = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


def owner(task: str, repository: str, count: int) -> int:
    """The shard (of `count`) that syncs the work unit (task, repository)."""
    return jump_hash(unit_key(task, repository), count)


def parse_shard(text: str, origin: str = "-shard") -> Shard:
    """`I/N` as given at `origin` (for the message), e.g. `2/4`."""
    match = _SHARD.fullmatch(text.strip())
    if match is None:
        raise ShardError(f"{origin}={text}: expected I/N, shard I of N counting from 0 (e.g. 2/4)")
    return _checked(int(match[1]), int(match[2]), f"{origin}={text}")


def _count(text: str, origin: str) -> int:
    if _NUMBER.fullmatch(text.strip()) is None:
        raise ShardError(f"{origin}={text}: expected the number of shards, e.g. 4")
    count = int(text)
    if count < 1:
        raise ShardError(f"{origin}={text}: the number of shards must be at least 1")
    return count


def _checked(index: int, count: int, where: str) -> Shard:
    if count < 1:
        raise ShardError(f"{where}: the number of shards N must be at least 1")
    if index >= count:
        raise ShardError(
            f"{where}: shard {index} does not exist: with {count} shard(s), I is 0 to {count - 1}"
        )
    return Shard(index, count)


def shard_from(flag: str | None, env: Mapping[str, str], hostname: str) -> Shard | None:
    """The shard this process syncs, from the `-shard` flag, else the environment; None
    when nothing asks for sharding (the process syncs everything)."""
    if flag is not None:
        return parse_shard(flag)
    if env.get("DREGSY_SHARD", "").strip():
        return parse_shard(env["DREGSY_SHARD"], "DREGSY_SHARD")
    shards = env.get("DREGSY_SHARDS", "").strip()
    if not shards:
        return None
    count = _count(env["DREGSY_SHARDS"], "DREGSY_SHARDS")
    job_index = env.get("JOB_COMPLETION_INDEX", "").strip()
    if job_index:
        if _NUMBER.fullmatch(job_index) is None:
            raise ShardError(f"JOB_COMPLETION_INDEX={job_index}: expected a number")
        where = f"JOB_COMPLETION_INDEX={job_index} with DREGSY_SHARDS={shards}"
        return _checked(int(job_index), count, where)
    # `dregsy-3`, or `dregsy-3.dregsy.ns.svc.cluster.local` (setHostnameAsFQDN)
    ordinal = _ORDINAL.search(hostname) or _ORDINAL.search(hostname.split(".", 1)[0])
    if ordinal is None:
        raise ShardError(
            f"DREGSY_SHARDS={shards}: which shard is this? Set JOB_COMPLETION_INDEX (an "
            f"Indexed Job does), or run where the host name ends in -<ordinal> (a "
            f"StatefulSet pod, e.g. dregsy-3); the host name is {hostname!r}"
        )
    where = f"host name {hostname} (ordinal {ordinal[1]}) with DREGSY_SHARDS={shards}"
    return _checked(int(ordinal[1]), count, where)
