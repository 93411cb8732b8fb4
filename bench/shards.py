"""W2S: a smaller W2 (100 repositories x 5 tiny tags) copied by 1, 2 and 4 dregsy processes,
each with its `-shard=I/N`, started together; the wall time is the slowest shard's.

`bench/run --workloads W2S [--runs 3]`
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.support.registry import RegistryFactory, RegistryServer

from bench.push import Pusher
from bench.tools import DREGSY, Setup, _dregsy_config
from bench.workloads import Workload, _seed_images

SHARD_COUNTS = (1, 2, 4)


@dataclass
class ShardedRun:
    shards: int
    walls: list[float]  # per process, in shard order
    manifest_puts: int
    pushed_twice: int  # tags whose manifest was PUT more than once
    failed: int


async def seed_w2s(base_url: str) -> Workload:
    workload = Workload("W2S", [f"bench/tiny{i}" for i in range(100)], [f"t{i}" for i in range(5)])
    async with Pusher(base_url, parallel=16) as pusher:
        await _seed_images(pusher, workload, (256,), "w2s")
    return workload


def _run_shards(config: Path, shards: int, log: Path) -> tuple[list[float], int]:
    env = dict(os.environ, LOG_LEVEL="warn")
    started = time.monotonic()
    with log.open("a") as out:
        procs = [
            subprocess.Popen(
                [DREGSY, f"-config={config}", *([f"-shard={i}/{shards}"] if shards > 1 else [])],
                stdout=out,
                stderr=out,
                env=env,
            )
            for i in range(shards)
        ]
        walls = [0.0] * shards
        failed = 0
        pending = dict(enumerate(procs))
        while pending:
            for i, proc in list(pending.items()):
                status = proc.poll()
                if status is not None:
                    walls[i] = time.monotonic() - started
                    failed += status != 0
                    del pending[i]
            time.sleep(0.01)
    return walls, failed


def run_w2s(runs: int, factory: RegistryFactory, work: Path) -> list[ShardedRun]:
    source = factory("src-W2S")
    t0 = time.monotonic()
    workload = asyncio.run(seed_w2s(source.url))
    print(f"# W2S: seeded in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    results: list[ShardedRun] = []
    for run in range(runs):
        order = SHARD_COUNTS[run % 3 :] + SHARD_COUNTS[: run % 3]
        for shards in order:
            dst: RegistryServer = factory(f"dst-W2S-{shards}-{run}")
            try:
                config = _dregsy_config(Setup(workload, source.host, dst.host, work), "native")
                walls, failed = _run_shards(config, shards, work / "W2S.log")
                puts = Counter(
                    (e.repository, e.reference)
                    for e in dst.requests()
                    if e.method == "PUT" and e.endpoint == "manifests"
                )
            finally:
                dst.stop()
            result = ShardedRun(
                shards, walls, sum(puts.values()), sum(n > 1 for n in puts.values()), failed
            )
            results.append(result)
            print(
                f"# W2S run {run + 1} {shards} shard(s): slowest {max(walls):.2f} s "
                f"({', '.join(f'{w:.2f}' for w in walls)})",
                file=sys.stderr,
            )
    source.stop()
    return results


def table(results: list[ShardedRun]) -> str:
    lines = [
        "**W2S** (100 repositories x 5 tiny tags; N processes with -shard=I/N)",
        "",
        "| processes | slowest shard wall s | vs 1 process | each shard's wall s | "
        "dst manifest PUT | pushed twice | failed processes |",
        "|---|---|---|---|---|---|---|",
    ]
    by_count = {n: [r for r in results if r.shards == n] for n in SHARD_COUNTS}
    base = statistics.median(max(r.walls) for r in by_count[1])
    for n, runs in by_count.items():
        slowest = statistics.median(max(r.walls) for r in runs)
        each = [statistics.median(r.walls[i] for r in runs) for i in range(n)]
        lines.append(
            f"| {n} | {slowest:.2f} | {slowest / base:.2f}x | "
            f"{', '.join(f'{w:.2f}' for w in each)} | "
            f"{statistics.median(r.manifest_puts for r in runs):.0f} | "
            f"{max(r.pushed_twice for r in runs)} | {sum(r.failed for r in runs)} |"
        )
    return "\n".join(lines) + "\n"
