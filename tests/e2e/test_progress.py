"""Live progress: on a terminal for one-off runs; never in pipes or with LOG_FORMAT=json."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.dregsy_cli import run
from tests.support.registry import RegistryServer
from tests.support.seed import SeededImages

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _config(tmp_path: Path, source: str, target: str) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
tasks:
  - name: mirror
    source: {{registry: {source}}}
    target: {{registry: {target}}}
    mappings:
      - {{from: demo/app, to: mirror/demo/app}}
      - {{from: demo/multi, to: mirror/demo/multi}}
"""
    )
    return config


def _on_terminal(config: Path, **env: str) -> tuple[int, str]:
    """Run dregsy with stderr on a pseudo-terminal; its exit status and what it showed."""
    main, child = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LOG_")}
    environ.update(COLUMNS="160", TERM="xterm", **env)
    process = subprocess.Popen(
        [sys.executable, "-m", "dregsy", f"-config={config}"],
        stdout=subprocess.DEVNULL,
        stderr=child,
        env=environ,
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    screen = _ANSI.sub("", b"".join(chunks).decode())
    return process.wait(timeout=60), screen


def test_terminal_shows_progress_and_keeps_the_log_lines(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    status, screen = _on_terminal(_config(tmp_path, seeded.registry.host, target_registry.host))
    assert status == 0, screen
    lines = [line for line in screen.splitlines() if " INFO " in line]
    assert any(
        line.endswith("task mirror: 3 copied, 0 skipped, 0 failed, 10.8 KiB moved in ")
        or "task mirror: 3 copied, 0 skipped, 0 failed" in line
        for line in lines
    )
    assert any("copied sha256:" in line for line in lines)


def test_no_progress_with_json_logs_on_a_terminal(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    config = _config(tmp_path, seeded.registry.host, target_registry.host)
    status, screen = _on_terminal(config, LOG_FORMAT="json")
    assert status == 0, screen
    assert "images" not in screen.replace('"msg"', "")  # no progress line
    for line in screen.splitlines():
        json.loads(line)  # every line is a log record


def test_no_progress_in_a_pipe(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    result = run(_config(tmp_path, seeded.registry.host, target_registry.host))
    assert result.returncode == 0, result.stderr
    assert "images" not in result.stderr
    assert "\x1b[" not in result.stderr  # no terminal control sequences
    assert all(line[:4].isdigit() for line in result.lines)  # only log lines
