"""`-report=FILE`: the JSON report parses, and its digests are the registries' (skopeo)."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import skopeo
from tests.support.dregsy_cli import Daemon, run
from tests.support.hostile_registry import HostileRegistry
from tests.support.registry import RegistryServer
from tests.support.seed import SeededImages

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    with HostileRegistry() as server:
        yield server


def _config(path: Path, source: str, target: str, hostile: str, interval: int = 0) -> Path:
    path.write_text(
        f"""
tasks:
  - name: mirror
    interval: {interval}
    source: {{registry: {source}}}
    target: {{registry: {target}}}
    mappings:
      - {{from: demo/app, to: mirror/demo/app}}
      - {{from: demo/multi, to: mirror/demo/multi}}
  - name: broken
    interval: {interval}
    source: {{registry: {hostile}}}
    target: {{registry: {target}}}
    mappings:
      - {{from: locked/app, to: mirror/locked, tags: [v1]}}
      - {{from: locked/all, to: mirror/all}}
"""
    )
    return path


def _read_when(report: Path, result: str, timeout: float = 10) -> Any:
    """The report once its mirror task's run says `result` (it is written just after the
    run's summary line is logged)."""
    deadline = time.monotonic() + timeout
    while True:
        if report.exists():
            doc = json.loads(report.read_text())
            tasks = {task["task"]: task for task in doc["tasks"]}
            if tasks.get("mirror", {}).get(result) == 3 and "broken" in tasks:
                return doc
        assert time.monotonic() < deadline, f"no report with 3 {result}"
        time.sleep(0.05)


def _check_against_registries(doc: Any, seeded: SeededImages, result: str) -> None:
    """Every mirror entry has `result`, and both digests are what skopeo sees now."""
    mirror = [entry for entry in doc["images"] if entry["task"] == "mirror"]
    assert sorted(entry["source"] for entry in mirror) == sorted(
        f"{seeded.registry.host}/{ref}" for ref in seeded.digests
    )
    for entry in mirror:
        assert entry["result"] == result
        assert entry["error"] is None
        assert entry["source_digest"] == skopeo.digest_of(entry["source"])
        assert entry["target_digest"] == skopeo.digest_of(entry["target"])
        assert entry["seconds"] >= 0
        if result == "copied":
            assert entry["bytes"] > 0
        else:
            assert entry["bytes"] == 0
    broken = {e["source"]: e for e in doc["images"] if e["task"] == "broken"}
    hostile = broken[next(iter(broken))]["source"].split("/")[0]
    image, mapping = broken[f"{hostile}/locked/app:v1"], broken[f"{hostile}/locked/all"]
    for entry in (image, mapping):
        assert entry["result"] == "failed"
        assert entry["target_digest"] is None
        assert "HTTP 403" in entry["error"]
    assert "/v2/locked/all/tags/list" in mapping["error"]  # its tags could not be listed
    assert mapping["target"].endswith("/mirror/all")
    summary = {task["task"]: task for task in doc["tasks"]}
    assert summary["mirror"]["result"] == "success"
    assert summary["mirror"][result] == 3
    assert summary["broken"]["result"] == "failure"
    assert summary["broken"]["failed"] == 2


def test_one_off_report_matches_the_registries(
    seeded: SeededImages, target_registry: RegistryServer, hostile: HostileRegistry, tmp_path: Path
) -> None:
    config = _config(
        tmp_path / "config.yaml", seeded.registry.host, target_registry.host, hostile.host
    )
    report = tmp_path / "out" / "report.json"
    report.parent.mkdir()
    result = run(config, f"-report={report}")
    assert result.returncode == 1, result.stderr  # the broken task failed
    _check_against_registries(json.loads(report.read_text()), seeded, "copied")
    assert sorted(p.name for p in report.parent.iterdir()) == ["report.json"]


def test_periodic_report_holds_the_latest_run_of_every_task(
    seeded: SeededImages, target_registry: RegistryServer, hostile: HostileRegistry, tmp_path: Path
) -> None:
    config = _config(
        tmp_path / "config.yaml", seeded.registry.host, target_registry.host, hostile.host, 3600
    )
    report = tmp_path / "report.json"
    daemon = Daemon(config, tmp_path / "dregsy.log", args=[f"-report={report}"])
    try:
        daemon.wait_for("task mirror: 3 copied")
        daemon.wait_for("task broken: 0 copied, 0 skipped, 2 failed")
        _check_against_registries(_read_when(report, "copied"), seeded, "copied")
        daemon.signal(signal.SIGHUP)  # runs both tasks again: now nothing to copy
        daemon.wait_for("task mirror: 0 copied, 3 skipped")
        daemon.wait_for("task broken: 0 copied, 0 skipped, 2 failed", count=2)
        _check_against_registries(_read_when(report, "skipped"), seeded, "skipped")
    finally:
        daemon.stop()


def test_report_in_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("tasks: []\n")
    result = run(config, f"-report={tmp_path}/nowhere/report.json")
    assert result.returncode == 2
    assert f"-report: the directory {tmp_path}/nowhere does not exist" in result.stderr
