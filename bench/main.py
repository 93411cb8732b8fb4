"""Runs the workloads with each tool, alternating, and prints medians and ratios.

`python -m bench.main [--workloads W1,W2,W4,W3] [--runs 3] [--tools ...]`; `--workloads W2S`
measures sharding (bench/shards.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.support import skopeo as skopeo_support
from tests.support.accesslog import count
from tests.support.dockerd import DockerDaemon
from tests.support.registry import RegistryFactory, RegistryServer

from bench import shards, workloads
from bench.tools import TOOLS, Command, Setup

ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"


@dataclass
class Measurement:
    wall: float
    rss_mib: float
    status: int
    src_manifest_head: int
    src_manifest_get: int
    src_blob_get: int
    dst_blob_uploads: int
    dst_manifest_put: int


def measure(argv: list[str], src: RegistryServer, dst: RegistryServer, log: Path) -> Measurement:
    src.clear_requests()
    dst.clear_requests()
    env = dict(os.environ, LOG_LEVEL="warn")
    rss_file = log.with_suffix(".rss")
    started = time.monotonic()
    with log.open("a") as out:
        # GNU time reports the command's own peak RSS; the kernel would charge a child of
        # this (large) process with its parent's pages.
        timed = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *argv]
        status = subprocess.run(timed, stdout=out, stderr=out, env=env, check=False).returncode
    wall = time.monotonic() - started
    rss_kib = int(rss_file.read_text().split()[-1])
    s, d = src.requests(), dst.requests()
    return Measurement(
        wall=wall,
        rss_mib=rss_kib / 1024,
        status=status,
        src_manifest_head=count(s, method="HEAD", endpoint="manifests"),
        src_manifest_get=count(s, method="GET", endpoint="manifests"),
        src_blob_get=count(s, method="GET", endpoint="blobs"),
        dst_blob_uploads=count(d, method="PUT", endpoint="uploads")
        + count(d, method="POST", endpoint="uploads", status=201),
        dst_manifest_put=count(d, method="PUT", endpoint="manifests"),
    )


@contextmanager
def target(factory: RegistryFactory, name: str) -> Iterator[RegistryServer]:
    server = factory(name)
    try:
        yield server
    finally:
        server.stop()


def _saved_manifests(
    base: str, refs: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[bytes, str]]:
    saved = {}
    for repo, tag in refs:
        r = httpx.get(f"{base}/v2/{repo}/manifests/{tag}", headers={"Accept": ACCEPT})
        r.raise_for_status()
        saved[(repo, tag)] = (r.content, r.headers["content-type"])
    return saved


def run_workload(
    name: str,
    tools: list[str],
    runs: int,
    factory: RegistryFactory,
    work: Path,
    docker_host: str | None,
) -> dict[str, dict[str, list[Measurement]]]:
    source = factory(f"src-{name}")
    seed = {
        "W1": workloads.seed_w1,
        "W2": workloads.seed_w2,
        "W3": workloads.seed_w3,
        "W4": workloads.seed_w1,
    }[name]
    t0 = time.monotonic()
    workload = asyncio.run(seed(source.url))
    print(f"# {name}: seeded in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    results: dict[str, dict[str, list[Measurement]]] = {t: {} for t in tools}
    for run in range(runs):
        order = tools[run % len(tools) :] + tools[: run % len(tools)]
        for tool in order:
            skopeo_support.clear_blob_info_cache()
            with target(factory, f"dst-{name}-{tool}-{run}") as dst:
                setup = Setup(workload, source.host, dst.host, work, docker_host)
                command: Command = TOOLS[tool]
                log = work / f"{name}-{tool}.log"
                if name == "W4":
                    measure(command(setup), source, dst, log)  # full copy, not counted
                    changes = [("bench/repo0", "t1"), ("bench/repo1", "t2"), ("bench/repo2", "t3")]
                    saved = _saved_manifests(source.url, changes)
                    asyncio.run(workloads.change_tags(source.url, changes))
                    phases = {"incremental": measure(command(setup), source, dst, log)}
                    asyncio.run(workloads.restore_tags(source.url, saved))
                else:
                    phases = {"full": measure(command(setup), source, dst, log)}
                    if tool != "ideal-copy":  # it checks nothing, so it has no no-op run
                        phases["no-op"] = measure(command(setup), source, dst, log)
                for phase, m in phases.items():
                    results[tool].setdefault(phase, []).append(m)
                    flag = "" if m.status == 0 else f" EXIT {m.status} (see {log})"
                    print(
                        f"# {name} run {run + 1} {tool} {phase}: {m.wall:.2f} s, "
                        f"{m.rss_mib:.0f} MiB{flag}",
                        file=sys.stderr,
                    )
    source.stop()
    return results


def table(name: str, results: dict[str, dict[str, list[Measurement]]]) -> str:
    def med(ms: list[Measurement], attr: str) -> float:
        return float(statistics.median(float(getattr(m, attr)) for m in ms))

    lines = [
        f"**{name}**",
        "",
        "| tool | phase | wall s | vs skopeo | peak RSS MiB | src manifest HEAD/GET"
        " | src blob GET | dst blob uploads | dst manifest PUT | failed runs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    skopeo = results.get("skopeo-sync", {})
    for tool, phases in results.items():
        for phase, ms in phases.items():
            wall = med(ms, "wall")
            ref = skopeo.get(phase)
            ratio = f"{wall / med(ref, 'wall'):.2f}x" if ref else "-"
            failed = sum(1 for m in ms if m.status != 0)
            lines.append(
                f"| {tool} | {phase} | {wall:.2f} | {ratio} | {med(ms, 'rss_mib'):.0f} | "
                f"{med(ms, 'src_manifest_head'):.0f}/{med(ms, 'src_manifest_get'):.0f} | "
                f"{med(ms, 'src_blob_get'):.0f} | {med(ms, 'dst_blob_uploads'):.0f} | "
                f"{med(ms, 'dst_manifest_put'):.0f} | {failed} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/run")
    parser.add_argument("--workloads", default="W1,W2,W4,W3")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOLS))
    args = parser.parse_args()
    tools = args.tools.split(",")
    with tempfile.TemporaryDirectory(prefix="dregsy-bench-") as tmp:
        work = Path(tmp)
        factory = RegistryFactory(work / "registries")
        daemon = None
        if "dregsy-docker" in tools:  # a private dockerd, as the tests start it
            daemon = DockerDaemon(work / "docker").start()
        try:
            for name in args.workloads.split(","):
                if name == "W2S":
                    print(shards.table(shards.run_w2s(args.runs, factory, work)), flush=True)
                    continue
                # W3's layer is not a tar (no daemon unpacks it); W2 through a daemon would
                # take an hour, and one skopeo process per tag a quarter of one.
                slow = {"W2": ("dregsy-docker", "dregsy-skopeo"), "W3": ("dregsy-docker",)}
                wl_tools = [t for t in tools if t not in slow.get(name, ())]
                host = daemon.host if daemon else None
                results = run_workload(name, wl_tools, args.runs, factory, work, host)
                print(table(name, results), flush=True)
        finally:
            factory.stop_all()
            if daemon is not None:
                daemon.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
