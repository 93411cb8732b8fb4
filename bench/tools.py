"""The contenders: dregsy (per relay), skopeo sync, and the ideal copy, as command lines."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.workloads import Workload
from dregsy.config import types as dregsy_types

ROOT = Path(__file__).resolve().parent.parent
DREGSY = str(ROOT / ".bench" / "venv" / "bin" / "dregsy")  # see bench/run
# The floor loop runs where dregsy runs: a plain install with only its runtime dependencies.
BENCH_PYTHON = str(ROOT / ".bench" / "venv" / "bin" / "python")
# dregsy's defaults, when the run does not set them
DEFAULT_PARALLEL = dregsy_types.DEFAULT_PARALLEL
DEFAULT_CONNECTIONS = dregsy_types.DEFAULT_MAX_CONNECTIONS


@dataclass(frozen=True)
class Setup:
    """Where a run reads and writes."""

    workload: Workload
    source: str  # host:port
    target: str
    workdir: Path
    docker_host: str | None = None
    parallel: int | None = None  # dregsy's `parallel`; None = its default
    max_connections: int | None = None  # dregsy's `max-connections` on both ends


Command = Callable[[Setup], list[str]]


def _dregsy_config(setup: Setup, relay: str) -> Path:
    lines = []
    if relay == "docker":
        lines.append(f"dockerhost: {setup.docker_host}")
    else:
        lines.append(f"relay: {relay}")
    if setup.parallel is not None:
        lines.append(f"parallel: {setup.parallel}")
    conns = "" if setup.max_connections is None else f", max-connections: {setup.max_connections}"
    lines += [
        "tasks:",
        "  - name: bench",
        f"    source: {{registry: {setup.source}{conns}}}",
        f"    target: {{registry: {setup.target}{conns}}}",
        "    mappings:",
    ]
    lines += [f"      - {{from: {src}, to: {dst}}}" for src, dst in setup.workload.pairs()]
    path = setup.workdir / f"dregsy-{relay}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def dregsy(relay: str) -> Command:
    def command(setup: Setup) -> list[str]:
        return [DREGSY, f"-config={_dregsy_config(setup, relay)}"]

    return command


def skopeo_sync(setup: Setup) -> list[str]:
    images: dict[str, list[str]] = {repo: [] for repo in setup.workload.repos}
    spec = {setup.source: {"images": images, "tls-verify": False}}
    path = setup.workdir / "skopeo-sync.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return [
        "skopeo",
        "sync",
        "--src",
        "yaml",
        "--dest",
        "docker",
        "--dest-tls-verify=false",
        "--all",
        "--preserve-digests",
        str(path),
        f"{setup.target}/mirror",
    ]


def ideal(setup: Setup) -> list[str]:
    pairs = [f"{src}:{dst}" for src, dst in setup.workload.pairs()]
    return [
        sys.executable,
        "-m",
        "bench.ideal",
        f"http://{setup.source}",
        f"http://{setup.target}",
        "8",
        *pairs,
    ]


def floor(setup: Setup, lists: bool = False) -> list[str]:
    pairs = [f"{src}:{dst}" for src, dst in setup.workload.pairs()]
    return [
        BENCH_PYTHON,
        "-m",
        "bench.floor",
        *(["--lists"] if lists else []),
        f"http://{setup.source}",
        f"http://{setup.target}",
        str(setup.parallel or DEFAULT_PARALLEL),
        str(setup.max_connections or DEFAULT_CONNECTIONS),
        ",".join(setup.workload.tags),
        *pairs,
    ]


TOOLS: dict[str, Command] = {
    "dregsy-native": dregsy("native"),
    "skopeo-sync": skopeo_sync,
    "ideal-copy": ideal,
    "dregsy-skopeo": dregsy("skopeo"),
    "dregsy-docker": dregsy("docker"),
    # Not contenders: measured right after dregsy-native's no-op, on the same target.
    "floor": floor,
    "floor-lists": lambda setup: floor(setup, lists=True),
}
