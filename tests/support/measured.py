"""Running `dregsy` as a subprocess with its peak memory measured and bounded.

The child runs under `prlimit --as` (so a regression cannot take the machine's memory),
started and reaped by `peak_rss.py`, a small process whose `os.wait4` gives the child's peak
resident set size (measured there, not from pytest: see that file).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

PEAK_RSS = Path(__file__).with_name("peak_rss.py")
ADDRESS_SPACE_LIMIT = 1024**3  # bytes of virtual memory the child may map at most


@dataclass(frozen=True)
class Measured:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mib: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def errors(self, json_format: bool) -> list[str]:
        """The messages logged at level error."""
        found = []
        for line in self.stderr.splitlines():
            if json_format:
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if isinstance(doc, dict) and doc.get("level") == "error":
                    found.append(str(doc.get("msg")))
            elif " ERROR " in line or line.startswith("dregsy: config error"):
                found.append(line)
        return found


def env_for(extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "DOCKER_"))}
    env.update(extra)
    return env


def run_measured(
    args: list[str],
    *,
    env: Mapping[str, str],
    timeout: float = 60,
    during: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> Measured:
    """`dregsy ARGS` to completion; `during(process)` runs while it does (e.g. to signal it)."""
    with (
        tempfile.TemporaryDirectory() as scratch,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        peak = Path(scratch) / "peak"
        argv = [
            sys.executable,
            str(PEAK_RSS),
            str(peak),
            "prlimit",
            f"--as={ADDRESS_SPACE_LIMIT}",
            sys.executable,
            "-m",
            "dregsy",
            *args,
        ]
        process = subprocess.Popen(
            argv, stdout=out, stderr=err, env=env_for(env), start_new_session=True
        )
        timer = threading.Timer(timeout, lambda: os.killpg(process.pid, signal.SIGKILL))
        timer.start()
        try:
            if during is not None:
                during(process)
            process.wait()
        finally:
            timer.cancel()
        out.seek(0)
        err.seek(0)
        return Measured(
            process.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            int(peak.read_text()) / 1024 if peak.exists() else float("inf"),
        )


def config_file(tmp: Path, source: str, target: str, extra: str = "", top: str = "") -> Path:
    """A one-off task copying `hostile/app` from `source` to `target` (both with `auth`)."""
    from tests.support.dregsy_cli import auth_value
    from tests.support.hostile import PASSWORD, USER

    auth = auth_value(USER, PASSWORD)
    path = tmp / "config.yaml"
    path.write_text(
        f"""{top}
tasks:
  - name: hostile
    source: {{registry: "{source}", auth: {auth}}}
    target: {{registry: "{target}", auth: {auth}}}
    mappings:
      - from: hostile/app
        to: mirror/app{extra}
"""
    )
    return path
