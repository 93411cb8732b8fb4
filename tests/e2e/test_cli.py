"""The command line: flags, exit statuses, broken configs, logs, signals and reloads."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dregsy import __version__
from tests.support import skopeo
from tests.support.dregsy_cli import Daemon, auth_value, run
from tests.support.registry import RegistryServer
from tests.support.seed import SeededImages

pytestmark = pytest.mark.e2e


def _dregsy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dregsy", *args], capture_output=True, text=True, check=False
    )


def test_version_and_help() -> None:
    version = _dregsy("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"dregsy {__version__}"
    helped = _dregsy("-help")
    assert helped.returncode == 0
    assert "-config" in helped.stdout
    assert "-run" in helped.stdout


def test_missing_config_flag_is_a_usage_error() -> None:
    result = _dregsy()
    assert result.returncode == 2
    assert "-config=FILE is required" in result.stderr


def test_config_file_that_does_not_exist(tmp_path: Path) -> None:
    result = _dregsy(f"--config={tmp_path / 'nope.yaml'}")
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr
    assert "Traceback" not in result.stderr


GOOD_TASK = """
  - name: ok
    source: {registry: 127.0.0.1:5000}
    target: {registry: 127.0.0.1:5001}
    mappings: [{from: a/b}]
"""


@pytest.mark.parametrize(
    ("text", "path", "line"),
    [
        ("tasks:\n  - name: x\n    source: {}\n", "tasks[0].source.registry", 3),
        (
            f"tasks:{GOOD_TASK}  - name: ok\n"
            "    source: {registry: a.b, lister: {type: index}}\n"
            "    target: {registry: c.d}\n    mappings: [{from: 'regex:x/.*'}]\n",
            "tasks[1].source.lister.search",
            7,
        ),
        (f"tasks:{GOOD_TASK}intervall: 5\n", "intervall", 6),
        ("tasks:\n  - name: x\n    interval: -1\n" + GOOD_TASK[14:], "tasks[0].interval", 3),
        ("tasks:\n  - name: x\n    verbose: 'yes'\n" + GOOD_TASK[14:], "tasks[0].verbose", 3),
        (
            "tasks:\n  - name: x\n    source: {registry: 'bad host'}\n"
            "    target: {registry: c.d}\n    mappings: [{from: x}]\n",
            "tasks[0].source.registry",
            3,
        ),
        (
            "tasks:\n  - name: x\n    source: {registry: a.b, auth-refresh: 1h}\n"
            "    target: {registry: c.d}\n    mappings: [{from: x}]\n",
            "tasks[0].source.auth-refresh",
            3,
        ),
        (
            "tasks:\n  - name: x\n    source: {registry: a.b, auth: '!!notbase64'}\n"
            "    target: {registry: c.d}\n    mappings: [{from: x}]\n",
            "tasks[0].source.auth",
            3,
        ),
        ("tasks: [\n", "", 2),
    ],
    ids=[
        "missing-registry",
        "index-lister-without-search",
        "unknown-key",
        "negative-interval",
        "string-bool",
        "bad-registry",
        "auth-refresh-not-ecr",
        "bad-auth",
        "yaml-syntax",
    ],
)
def test_broken_configs_exit_2_with_path_and_line(
    tmp_path: Path, text: str, path: str, line: int
) -> None:
    config = tmp_path / "broken.yaml"
    config.write_text(text)
    result = run(config)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"line {line}" in result.stderr, result.stderr
    assert path in result.stderr, result.stderr
    assert "!!notbase64" not in result.stderr


def test_docker_relay_rejects_platform_all(tmp_path: Path) -> None:
    config = tmp_path / "seed.yaml"
    task = GOOD_TASK.replace("{from: a/b}", "{from: a/b, platform: all}")
    config.write_text("dockerhost: unix:///var/run/docker.sock\ntasks:" + task)
    result = run(config)
    assert result.returncode == 2
    assert "tasks[0].mappings[0].platform" in result.stderr
    assert "docker relay" in result.stderr
    assert "dockerhost" in result.stderr


def _mirror_config(path: Path, source: str, target: str, interval: int = 0, **extra: str) -> Path:
    lines = [f"{key}: {value}" for key, value in extra.items()]
    path.write_text(
        "\n".join(lines)
        + f"""
tasks:
  - name: first
    interval: {interval}
    source: {{registry: {source}}}
    target: {{registry: {target}}}
    mappings:
      - from: demo/app
        tags: [v1]
  - name: second
    source: {{registry: {source}}}
    target: {{registry: {target}}}
    mappings:
      - from: demo/multi
"""
    )
    return path


@pytest.mark.usefixtures("skopeo")
def test_run_filter_and_json_logs(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    config = _mirror_config(tmp_path / "c.yaml", seeded.registry.host, target_registry.host)
    result = run(config, "-run=sec", env={"LOG_FORMAT": "json"})
    assert result.returncode == 2  # anchored: 'sec' matches no task
    result = run(config, "-run=sec.*", env={"LOG_FORMAT": "json"})
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.lines]
    assert all({"time", "level", "msg"} <= set(r) for r in records)
    summaries = [r for r in records if r["msg"].startswith("task second:")]
    assert len(summaries) == 1
    assert summaries[0]["task"] == "second"
    with pytest.raises(skopeo.SkopeoError, match="404"):  # task 'first' did not run
        skopeo.list_tags(f"{target_registry.host}/demo/app")


@pytest.mark.usefixtures("skopeo")
def test_periodic_run_stops_on_sigterm(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    config = _mirror_config(
        tmp_path / "c.yaml", seeded.registry.host, target_registry.host, interval=1
    )
    daemon = Daemon(config, tmp_path / "dregsy.log")
    daemon.wait_for("task first:", count=2)  # ran at start and again a second later
    daemon.wait_for("task second:")
    started = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - started < 10
    text = daemon.text()
    assert text.count("task second:") == 1  # a one-off runs once
    assert "received SIGTERM" in text
    assert skopeo.digest_of(f"{target_registry.host}/demo/app:v1") == seeded.digest("demo/app:v1")


@pytest.mark.usefixtures("skopeo")
def test_sighup_reloads_and_invalid_reload_keeps_running(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    config = _mirror_config(
        tmp_path / "c.yaml", seeded.registry.host, target_registry.host, interval=3600
    )
    daemon = Daemon(config, tmp_path / "dregsy.log")
    daemon.wait_for("task first:")
    daemon.wait_for("task second:")
    config.write_text(config.read_text() + "    bogus: 1\n")
    daemon.signal(signal.SIGHUP)
    daemon.wait_for("keeping the current one")
    assert daemon.process.poll() is None
    text = config.read_text().replace("    bogus: 1\n", "").replace("tags: [v1]", "tags: [v1, v2]")
    config.write_text(text)
    daemon.signal(signal.SIGHUP)
    daemon.wait_for("configuration reloaded")
    daemon.wait_for("task first:", count=2)
    assert daemon.stop() == 0
    assert skopeo.digest_of(f"{target_registry.host}/demo/app:v2") == seeded.digest("demo/app:v2")


@pytest.mark.usefixtures("skopeo")
def test_watch_reloads_on_file_change(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    config = _mirror_config(
        tmp_path / "c.yaml", seeded.registry.host, target_registry.host, interval=3600, watch="true"
    )
    daemon = Daemon(config, tmp_path / "dregsy.log")
    daemon.wait_for("task second:")
    # a ConfigMap-style swap: write a new file and rename it over the old one
    new = tmp_path / "c.yaml.new"
    new.write_text(config.read_text().replace("tags: [v1]", "tags: [v2]"))
    new.replace(config)
    daemon.wait_for("configuration reloaded", timeout=15)
    daemon.wait_for("task first:", count=2)
    assert daemon.stop() == 0
    assert skopeo.digest_of(f"{target_registry.host}/demo/app:v2") == seeded.digest("demo/app:v2")


def test_secrets_stay_out_of_error_output(tmp_path: Path) -> None:
    auth = auth_value("alice", "hunter2-secret")
    config = tmp_path / "c.yaml"
    config.write_text(
        f"""
tasks:
  - name: t
    source: {{registry: 127.0.0.1:9, auth: {auth}}}
    target: {{registry: 127.0.0.1:9, auth: {auth}}}
    mappings: [{{from: a/b, tags: [x]}}]
"""
    )
    result = run(config, env={"LOG_LEVEL": "debug"})
    assert result.returncode == 1
    assert "hunter2-secret" not in result.stderr
    assert auth not in result.stderr
