"""Runs the workloads with each tool, alternating, and prints medians and ratios.

`python -m bench.main [--workloads W1,W2,W4,W3,W5] [--runs 3] [--tools ...] [--rtt-ms 20]`;
`--workloads W2S` measures sharding (bench/shards.py). A tool written `dregsy-native:32` runs
with `parallel` and `max-connections` 32 (its floor row is `floor:32`); `--sweep 8,16,32`
puts one such variant per value in place of `dregsy-native`, alternated like any tool.
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
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from tests.support import skopeo as skopeo_support
from tests.support.accesslog import count
from tests.support.dockerd import DockerDaemon
from tests.support.registry import RegistryFactory, RegistryServer

from bench import shards, workloads
from bench.latency import LatencyProxy, delayed
from bench.tools import TOOLS, Command, Setup

ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"


@dataclass
class Measurement:
    wall: float
    cpu: float  # the command's user + system CPU seconds (GNU time)
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
        timed = ["/usr/bin/time", "-f", "%U %S %M", "-o", str(rss_file), *argv]
        status = subprocess.run(timed, stdout=out, stderr=out, env=env, check=False).returncode
    wall = time.monotonic() - started
    user, system, rss_kib = rss_file.read_text().split()[-3:]
    s, d = src.requests(), dst.requests()
    return Measurement(
        wall=wall,
        cpu=float(user) + float(system),
        rss_mib=int(rss_kib) / 1024,
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


@dataclass(frozen=True)
class Options:
    runs: int
    tools: list[str]
    rtt: float  # seconds a latency proxy adds per round trip (W5)
    parallel: int | None
    max_connections: int | None
    w2_repos: int
    w5_repos: int


Results = dict[str, dict[str, list[Measurement]]]


def _record(results: Results, name: str, run: int, tool: str, phase: str, m: Measurement) -> None:
    results.setdefault(tool, {}).setdefault(phase, []).append(m)
    flag = "" if m.status == 0 else f" EXIT {m.status}"
    print(
        f"# {name} run {run + 1} {tool} {phase}: {m.wall:.2f} s, {m.cpu:.2f} s CPU, "
        f"{m.rss_mib:.0f} MiB{flag}",
        file=sys.stderr,
    )


def _order(tools: list[str], run: int) -> list[str]:
    """The contenders for this run, rotated so each goes first in turn (floor is not one)."""
    contenders = [t for t in tools if not _variant(t)[0].startswith("floor")]
    shift = run % len(contenders)
    return contenders[shift:] + contenders[:shift]


def _variant(tool: str) -> tuple[str, int | None]:
    """`dregsy-native:32` -> ("dregsy-native", 32): the tool, and its concurrency if set."""
    name, _, n = tool.partition(":")
    return name, int(n) if n else None


def _floor_of(tool: str) -> str:
    """The floor row measured after `tool`: `floor`, or `floor:N` for a variant."""
    n = _variant(tool)[1]
    return "floor" if n is None else f"floor:{n}"


def _setup(
    opts: Options,
    tool: str,
    workload: workloads.Workload,
    src: str,
    dst: str,
    work: Path,
    docker_host: str | None = None,
) -> Setup:
    n = _variant(tool)[1]
    parallel = n or opts.parallel
    conns = n or opts.max_connections
    return Setup(workload, src, dst, work, docker_host, parallel, conns)


def _command(tool: str, setup: Setup) -> list[str]:
    return TOOLS[_variant(tool)[0]](setup)


def _floors(tool: str, opts: Options) -> list[tuple[str, Command]]:
    """The floor rows measured right after `tool` (dregsy-native's no-op), on its target:
    `floor` (`floor:N` for a variant), and `floor-lists` for the plain tool."""
    name, n = _variant(tool)
    if name != "dregsy-native":
        return []
    rows: list[tuple[str, Command]] = []
    if "floor" in opts.tools:
        rows.append((_floor_of(tool), TOOLS["floor"]))
    if "floor-lists" in opts.tools and n is None:
        rows.append(("floor-lists", TOOLS["floor-lists"]))
    return rows


def run_workload(
    name: str, opts: Options, factory: RegistryFactory, work: Path, docker_host: str | None
) -> Results:
    source = factory(f"src-{name}")
    t0 = time.monotonic()
    if name == "W2":
        workload = asyncio.run(workloads.seed_w2(source.url, opts.w2_repos))
    else:
        seed = {"W1": workloads.seed_w1, "W3": workloads.seed_w3, "W4": workloads.seed_w1}[name]
        workload = asyncio.run(seed(source.url))
    print(f"# {name}: seeded in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    results: Results = {t: {} for t in opts.tools}
    for run in range(opts.runs):
        for tool in _order(opts.tools, run):
            skopeo_support.clear_blob_info_cache()
            with target(factory, f"dst-{name}-{tool.replace(':', '-')}-{run}") as dst:
                setup = _setup(opts, tool, workload, source.host, dst.host, work, docker_host)

                log = work / f"{name}-{tool}.log"
                if name == "W4":
                    measure(_command(tool, setup), source, dst, log)  # full copy, not counted
                    changes = [("bench/repo0", "t1"), ("bench/repo1", "t2"), ("bench/repo2", "t3")]
                    saved = _saved_manifests(source.url, changes)
                    asyncio.run(workloads.change_tags(source.url, changes))
                    phases = {"incremental": measure(_command(tool, setup), source, dst, log)}
                    asyncio.run(workloads.restore_tags(source.url, saved))
                else:
                    phases = {"full": measure(_command(tool, setup), source, dst, log)}
                    if tool != "ideal-copy":  # it checks nothing, so it has no no-op run
                        phases["no-op"] = measure(_command(tool, setup), source, dst, log)
                for phase, m in phases.items():
                    _record(results, name, run, tool, phase, m)
                for row, floor in _floors(tool, opts) if name in ("W1", "W2") else ():
                    m = measure(floor(setup), source, dst, work / f"{name}-{row}.log")
                    _record(results, name, run, row, "no-op", m)
    source.stop()
    return results


def _prime(source: RegistryServer, dst: RegistryServer, workload: workloads.Workload) -> None:
    """Copy a workload on loopback (the ideal copy, not measured), for a no-op to find."""
    pairs = [f"{src}:{to}" for src, to in workload.pairs()]
    argv = [sys.executable, "-m", "bench.ideal", source.url, dst.url, "8", *pairs]
    subprocess.run(argv, check=True)


def run_w5(opts: Options, factory: RegistryFactory, work: Path) -> Results:
    """W2's no-op and W1's full copy, with a latency proxy in front of every registry."""
    full_src = factory("src-W5-full")
    noop_src = factory("src-W5-noop")
    noop_dst = factory("dst-W5-noop")
    t0 = time.monotonic()
    full_wl = asyncio.run(workloads.seed_w1(full_src.url))
    noop_wl = asyncio.run(workloads.seed_w2(noop_src.url, opts.w5_repos))
    _prime(noop_src, noop_dst, noop_wl)  # one target for every no-op: a no-op writes nothing
    print(f"# W5: seeded in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    results: Results = {t: {} for t in opts.tools}
    noop_phase = f"no-op W2 {opts.w5_repos}x5"
    with (
        delayed(full_src.host, opts.rtt) as full_in,
        delayed(noop_src.host, opts.rtt) as noop_in,
        delayed(noop_dst.host, opts.rtt) as noop_out,
    ):

        def setup(tool: str, wl: workloads.Workload, src: LatencyProxy, dst: LatencyProxy) -> Setup:
            return _setup(opts, tool, wl, src.host, dst.host, work)

        for run in range(opts.runs):
            for tool in _order(opts.tools, run):
                skopeo_support.clear_blob_info_cache()
                log = work / f"W5-{tool}.log"
                if tool != "ideal-copy":
                    noop = setup(tool, noop_wl, noop_in, noop_out)
                    m = measure(_command(tool, noop), noop_src, noop_dst, log)
                    _record(results, "W5", run, tool, noop_phase, m)
                    for row, floor in _floors(tool, opts):
                        m = measure(floor(noop), noop_src, noop_dst, log)
                        _record(results, "W5", run, row, noop_phase, m)
                with (
                    target(factory, f"dst-W5-{tool.replace(':', '-')}-{run}") as dst,
                    delayed(dst.host, opts.rtt) as full_out,
                ):
                    full = setup(tool, full_wl, full_in, full_out)
                    m = measure(_command(tool, full), full_src, dst, log)
                    _record(results, "W5", run, tool, "full W1", m)
    for server in (full_src, noop_src, noop_dst):
        server.stop()
    return {t: r for t, r in results.items() if r}


def table(name: str, results: Results) -> str:
    def med(ms: list[Measurement], attr: str) -> float:
        return float(statistics.median(float(getattr(m, attr)) for m in ms))

    lines = [
        f"**{name}**",
        "",
        "| tool | phase | wall s | vs skopeo | CPU s | CPU vs floor | peak RSS MiB"
        " | src manifest HEAD/GET | src blob GET | dst blob uploads | dst manifest PUT"
        " | failed runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    skopeo = results.get("skopeo-sync", {})
    for tool, phases in results.items():
        floor = results.get(_floor_of(tool) if _variant(tool)[0] != "floor" else tool, {})
        for phase, ms in phases.items():
            wall = med(ms, "wall")
            ref = skopeo.get(phase)
            ratio = f"{wall / med(ref, 'wall'):.3f}x" if ref else "-"
            base = floor.get(phase)
            cpu_ratio = f"{med(ms, 'cpu') / med(base, 'cpu'):.2f}x" if base else "-"
            failed = sum(1 for m in ms if m.status != 0)
            lines.append(
                f"| {tool} | {phase} | {wall:.2f} | {ratio} | {med(ms, 'cpu'):.2f} | "
                f"{cpu_ratio} | {med(ms, 'rss_mib'):.0f} | "
                f"{med(ms, 'src_manifest_head'):.0f}/{med(ms, 'src_manifest_get'):.0f} | "
                f"{med(ms, 'src_blob_get'):.0f} | {med(ms, 'dst_blob_uploads'):.0f} | "
                f"{med(ms, 'dst_manifest_put'):.0f} | {failed} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/run")
    parser.add_argument("--workloads", default="W1,W2,W4,W3,W5")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument(
        "--rtt-ms", type=float, default=20.0, help="round trip the W5 latency proxies add"
    )
    parser.add_argument("--parallel", type=int, help="dregsy's parallel (default: its own)")
    parser.add_argument(
        "--max-connections", type=int, help="dregsy's max-connections (default: its own)"
    )
    parser.add_argument(
        "--sweep",
        help="values of parallel = max-connections to try, e.g. 8,16,32,64: one "
        "dregsy-native:N per value in place of dregsy-native, alternated in the same run",
    )
    parser.add_argument("--w2-repos", type=int, default=300, help="W2's repositories (x 5 tags)")
    parser.add_argument(
        "--w5-repos", type=int, default=100, help="W5's no-op repositories (x 5 tags)"
    )
    args = parser.parse_args()
    tools = args.tools.split(",")
    if args.sweep:
        variants = [f"dregsy-native:{int(n)}" for n in args.sweep.split(",")]
        at = tools.index("dregsy-native") if "dregsy-native" in tools else 0
        tools = [t for t in tools if t != "dregsy-native"]
        tools[at:at] = variants
    opts = Options(
        runs=args.runs,
        tools=tools,
        rtt=args.rtt_ms / 1000,
        parallel=args.parallel,
        max_connections=args.max_connections,
        w2_repos=args.w2_repos,
        w5_repos=args.w5_repos,
    )
    with tempfile.TemporaryDirectory(prefix="dregsy-bench-") as tmp:
        work = Path(tmp)
        factory = RegistryFactory(work / "registries")
        daemon = None
        if "dregsy-docker" in opts.tools:  # a private dockerd, as the tests start it
            daemon = DockerDaemon(work / "docker").start()
        try:
            for name in args.workloads.split(","):
                if name == "W2S":
                    print(shards.table(shards.run_w2s(args.runs, factory, work)), flush=True)
                    continue
                # W3's layer is not a tar (no daemon unpacks it); W2 through a daemon would
                # take an hour, and one skopeo process per tag a quarter of one; so would W5.
                relays = ("dregsy-docker", "dregsy-skopeo")
                slow = {"W2": relays, "W3": ("dregsy-docker",), "W5": relays}
                wl_opts = replace(
                    opts, tools=[t for t in opts.tools if t not in slow.get(name, ())]
                )
                if name == "W5":
                    results = run_w5(wl_opts, factory, work)
                else:
                    host = daemon.host if daemon else None
                    results = run_workload(name, wl_opts, factory, work, host)
                print(table(name, results), flush=True)
        finally:
            factory.stop_all()
            if daemon is not None:
                daemon.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
