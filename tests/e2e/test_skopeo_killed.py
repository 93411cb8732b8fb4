"""dregsy killed (SIGKILL) while `relay: skopeo` copies (issue 16): skopeo dies with it, and
the auth files it left are removed by the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hostile import SECRETS, HostileRegistry, sha256
from tests.support.measured import config_file, env_for, run_measured

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture
def pair() -> Iterator[tuple[HostileRegistry, HostileRegistry]]:
    with (
        HostileRegistry("slow-blob", layer_size=1024 * 1024) as source,
        HostileRegistry("ok", empty=True) as target,
    ):
        yield source, target


def test_sigkill_leaves_no_skopeo_and_no_auth_files(
    pair: tuple[HostileRegistry, HostileRegistry], tmp_path: Path
) -> None:
    source, target = pair
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    config = config_file(
        tmp_path, source.address, target.address, "\n        tags: [v1]", top="relay: skopeo"
    )
    env = env_for({"TMPDIR": str(tmp), "LOG_LEVEL": "debug", "DOCKER_CONFIG": str(tmp_path)})
    argv = [sys.executable, "-m", "dregsy", f"-config={config}"]
    log = (tmp_path / "dregsy.log").open("w")
    dregsy = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    orphans: list[int] = []
    try:
        layer = f"/v2/hostile/app/blobs/{sha256(source.layer_blob)}"
        _wait(
            lambda: any(s.method == "GET" and s.path == layer for s in source.seen),
            60,
            "skopeo never started the blob download",
        )
        orphans = _children(dregsy.pid)
        assert orphans, "no skopeo child"
        auth_files = list(tmp.rglob("*auth.json"))
        assert len(auth_files) == 2  # source and target credentials
        dregsy.send_signal(signal.SIGKILL)
        dregsy.wait(timeout=10)
        _wait(lambda: not any(_running(p) for p in orphans), 5, "skopeo outlived dregsy")
    finally:
        for pid in orphans:  # a skopeo this test started, if it is still there
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        if dregsy.poll() is None:
            dregsy.kill()
            dregsy.wait()
        log.close()
    # The next start removes what the killed process left.
    source.mode = "ok"
    again = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    assert list(tmp.rglob("*auth.json")) == []
    assert [p.name for p in tmp.rglob("run-*")] == []
    for secret in SECRETS:
        assert secret not in again.stderr
        assert secret not in (tmp_path / "dregsy.log").read_text()
    assert target.store.tags == {"v1": source.manifest_digest}


def test_sigterm_during_a_one_off_skopeo_copy_is_a_failure(
    pair: tuple[HostileRegistry, HostileRegistry], tmp_path: Path
) -> None:
    """Defect 5 with `relay: skopeo`: the copy never finished, so the run failed."""
    source, target = pair
    config = config_file(
        tmp_path, source.address, target.address, "\n        tags: [v1]", top="relay: skopeo"
    )
    env = {"TMPDIR": str(tmp_path), "LOG_LEVEL": "debug", "DOCKER_CONFIG": str(tmp_path)}
    layer = f"/v2/hostile/app/blobs/{sha256(source.layer_blob)}"

    def stop_mid_copy(process: subprocess.Popen[bytes]) -> None:
        _wait(
            lambda: any(s.method == "GET" and s.path == layer for s in source.seen),
            60,
            "skopeo never started the blob download",
        )
        os.kill(process.pid, signal.SIGTERM)

    result = run_measured([f"-config={config}"], env=env, timeout=60, during=stop_mid_copy)
    assert result.returncode == 1, result.output
    assert "all syncs succeeded" not in result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.errors(False) if f"{source.address}/hostile/app:v1" in line]
    assert len(errors) == 1, result.stderr
    assert "cancelled" in errors[0]
    assert target.store.tags == {}
