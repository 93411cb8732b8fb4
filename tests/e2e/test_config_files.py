"""Config files that are not what they seem (issue 16, defects 9 and 10): devices, FIFOs and
huge files as the config, an `auth-file` or Docker's `config.json`, at start and on reload."""

from __future__ import annotations

import base64
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dregsy_cli import Daemon
from tests.support.hostile import SECRETS, HostileRegistry
from tests.support.measured import Measured, config_file, run_measured

pytestmark = pytest.mark.e2e

MEMORY_LIMIT_MIB = 80
HUGE_FILE = 64 * 1024 * 1024  # sparse: takes no disk space


@pytest.fixture
def registry() -> Iterator[HostileRegistry]:
    with HostileRegistry("ok") as server:
        yield server


def run(config: Path, tmp_path: Path, docker_config: Path | None = None) -> Measured:
    docker = docker_config or tmp_path / "docker"
    docker.mkdir(exist_ok=True)
    env = {"LOG_LEVEL": "debug", "DOCKER_CONFIG": str(docker)}
    return run_measured([f"-config={config}"], env=env, timeout=30)


def check_refused(result: Measured, *needles: str) -> None:
    """Exit 2 with one config-error line saying all `needles`; quickly and in little memory."""
    assert result.returncode == 2, result.output
    assert "Traceback" not in result.output
    for secret in SECRETS:
        assert secret not in result.output
    lines = [line for line in result.stderr.splitlines() if "config error" in line]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert result.peak_rss_mib < MEMORY_LIMIT_MIB, f"peak RSS {result.peak_rss_mib:.0f} MiB"


def huge(path: Path) -> Path:
    with path.open("wb") as stream:
        stream.truncate(HUGE_FILE)
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["device", "fifo", "huge"])
def test_config_file_that_is_not_a_small_regular_file(kind: str, tmp_path: Path) -> None:
    if kind == "device":
        path = Path("/dev/zero")
    elif kind == "fifo":
        path = fifo(tmp_path / "config.yaml")
    else:
        path = huge(tmp_path / "config.yaml")
    reason = "larger than 4 MiB" if kind == "huge" else "not a regular file"
    check_refused(run(path, tmp_path), str(path), reason)


@pytest.mark.parametrize("kind", ["device", "fifo", "huge"])
def test_auth_file_that_is_not_a_small_regular_file(
    kind: str, tmp_path: Path, registry: HostileRegistry
) -> None:
    auth = {"device": Path("/dev/zero"), "fifo": tmp_path / "auth", "huge": tmp_path / "auth"}[kind]
    if kind == "fifo":
        fifo(auth)
    elif kind == "huge":
        huge(auth)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
tasks:
  - name: t
    source: {{registry: "{registry.address}", auth-file: {auth}}}
    target: {{registry: "{registry.address}"}}
    mappings: [{{from: hostile/app, to: mirror/app}}]
"""
    )
    reason = "larger than 64 KiB" if kind == "huge" else "not a regular file"
    check_refused(run(config, tmp_path), "tasks[0].source.auth-file", reason)


@pytest.mark.parametrize("kind", ["device", "fifo", "huge"])
def test_docker_config_that_is_not_a_small_regular_file(
    kind: str, tmp_path: Path, registry: HostileRegistry
) -> None:
    docker = tmp_path / "dockercfg"
    docker.mkdir()
    target = docker / "config.json"
    if kind == "device":
        target.symlink_to("/dev/zero")
    elif kind == "fifo":
        fifo(target)
    else:
        huge(target)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
tasks:
  - name: t
    source: {{registry: "{registry.address}"}}
    target: {{registry: "{registry.address}"}}
    mappings: [{{from: hostile/app, to: mirror/app}}]
"""
    )
    reason = "larger than 4 MiB" if kind == "huge" else "not a regular file"
    check_refused(run(config, tmp_path, docker), str(target), reason)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_reload_of_a_config_turned_fifo_or_device_keeps_running(
    kind: str, tmp_path: Path, registry: HostileRegistry
) -> None:
    """With `watch: true`, the config replaced by a FIFO (or /dev/zero): the reload is refused
    with a clear error, the running config goes on, and SIGTERM still ends dregsy."""
    target = HostileRegistry("ok", empty=True).start()
    try:
        config = config_file(tmp_path, registry.address, target.address, top="watch: true")
        text = config.read_text().replace("- name: hostile", "- name: hostile\n    interval: 1")
        config.write_text(text)
        docker = tmp_path / "docker"
        docker.mkdir()
        env = {"LOG_LEVEL": "debug", "DOCKER_CONFIG": str(docker)}
        daemon = Daemon(config, tmp_path / "dregsy.log", env=env)
        try:
            daemon.wait_for("1 copied")
            replacement = tmp_path / "replacement"
            if kind == "fifo":
                fifo(replacement)
            else:
                replacement.symlink_to("/dev/zero")
            replacement.rename(config)
            daemon.wait_for("not a regular file", timeout=15)
            daemon.wait_for("keeping the current one")
            runs = daemon.text().count("task hostile:")
            daemon.wait_for("task hostile:", count=runs + 1, timeout=15)  # still syncing
            daemon.signal(signal.SIGTERM)
            status = daemon.stop(timeout=10)
        finally:
            daemon.stop(timeout=10)
        assert status == 0, daemon.text()
        assert "Traceback" not in daemon.text()
    finally:
        target.stop()


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ('"p", "x": ' + "[" * 100_000 + "]" * 100_000, "does not decode to JSON"),
        ("7" * 5000, "without a 'password' string"),
    ],
)
def test_auth_value_with_odd_json_is_a_config_error(
    password: str, reason: str, tmp_path: Path, registry: HostileRegistry
) -> None:
    """Defect 8 in the config: legal but odd JSON in an `auth` value is exit 2, not a crash."""
    doc = '{"username": "u", "password": ' + password + "}"
    value = base64.b64encode(doc.encode()).decode()
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
tasks:
  - name: t
    source: {{registry: "{registry.address}", auth: {value}}}
    target: {{registry: "{registry.address}"}}
    mappings: [{{from: hostile/app, to: mirror/app}}]
"""
    )
    check_refused(run(config, tmp_path), "tasks[0].source.auth", reason)
