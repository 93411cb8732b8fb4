"""`-dry-run`: what a run would do with each image and why, with reads only (HEADs where a
HEAD says enough), checked against the registries' access logs."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import skopeo
from tests.support.accesslog import AccessLogEntry, count
from tests.support.dregsy_cli import run
from tests.support.quota_proxy import QuotaProxy
from tests.support.registry import RegistryServer
from tests.support.seed import SeededImages

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]

WRITES = ("PUT", "POST", "PATCH", "DELETE")


def _copy(src: str, dst: str) -> None:
    skopeo.run(
        [
            "copy",
            "--all",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            f"docker://{src}",
            f"docker://{dst}",
        ]
    )


@pytest.fixture
def prepared(seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path) -> Path:
    """Target: app:v1 as at the source, app:v2 holding v1's image, no multi; a config that
    also asks for a tag the source lacks."""
    src, dst = seeded.registry.host, target_registry.host
    _copy(f"{src}/demo/app:v1", f"{dst}/mirror/demo/app:v1")
    _copy(f"{src}/demo/app:v1", f"{dst}/mirror/demo/app:v2")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
tasks:
  - name: preview
    interval: 60
    source: {{registry: {src}}}
    target: {{registry: {dst}}}
    mappings:
      - {{from: demo/app, to: mirror/demo/app, tags: [v1, v2, nope]}}
      - {{from: demo/multi, to: mirror/demo/multi}}
"""
    )
    seeded.registry.clear_requests()
    target_registry.clear_requests()
    return config


def _short(digest: str) -> str:
    return digest[: len("sha256:") + 12]


def _no_writes_no_avoidable_gets(
    source: list[AccessLogEntry], target: list[AccessLogEntry]
) -> None:
    for log in (source, target):
        for method in WRITES:
            assert count(log, method=method) == 0, method
        assert count(log, method="GET", endpoint="manifests") == 0  # a HEAD says it all
        assert count(log, endpoint="blobs") == 0
        assert count(log, endpoint="uploads") == 0
    assert count(target, endpoint="tags") == 0  # a run asks new repositories; a dry run not
    assert count(source, method="GET", endpoint="tags") == 1  # demo/multi: every tag
    assert count(source, method="HEAD", endpoint="manifests") == 4  # v1, v2, nope, m1
    assert count(target, method="HEAD", endpoint="manifests") == 4


def test_dry_run_says_what_and_why_and_only_reads(
    seeded: SeededImages, target_registry: RegistryServer, prepared: Path
) -> None:
    src, dst = seeded.registry.host, target_registry.host
    result = run(prepared, "-dry-run")
    assert result.returncode == 1, result.stderr  # the tag `nope` could not be checked
    v1, v2 = seeded.digest("demo/app:v1"), seeded.digest("demo/app:v2")
    expected = [
        f"INFO    [preview] dry run: {src}/demo/app:v1 -> {dst}/mirror/demo/app:v1: unchanged",
        f"dry run: {src}/demo/app:v2 -> {dst}/mirror/demo/app:v2: copy (target has "
        f"{_short(v1)}, source has {_short(v2)})",
        f"dry run: {src}/demo/multi:m1 -> {dst}/mirror/demo/multi:m1: copy (not at target)",
        f"ERROR   [preview] {src}/demo/app:nope -> {dst}/mirror/demo/app:nope: "
        f"HEAD {src}/demo/app:nope: HTTP 404: tag not found in source",
    ]
    for line in expected:
        assert line in result.stderr, result.stderr
    assert sum(":nope" in line for line in result.lines) == 1  # the runner's error line only
    assert "task preview (dry run): 2 to copy, 1 unchanged, 1 could not be checked" in result.stderr
    _no_writes_no_avoidable_gets(seeded.registry.requests(), target_registry.requests())
    # nothing changed at the target
    assert skopeo.digest_of(f"{dst}/mirror/demo/app:v2") == v1
    assert "m1" not in "".join(skopeo.list_tags(f"{dst}/mirror/demo/app"))


def test_dry_run_on_a_terminal_prints_a_table(
    seeded: SeededImages, target_registry: RegistryServer, prepared: Path
) -> None:
    main, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOG_")}
    env.update(COLUMNS="220", TERM="xterm")
    process = subprocess.Popen(
        [sys.executable, "-m", "dregsy", f"-config={prepared}", "-dry-run"],
        stdout=child,
        stderr=subprocess.PIPE,
        env=env,
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
    assert process.wait(timeout=60) == 1
    assert process.stderr is not None
    process.stderr.close()
    table = b"".join(chunks).decode()
    plain = "".join(ch for ch in table if ch.isprintable() or ch == "\n")
    assert "dregsy dry run" in plain
    for words in ("copy (not at target)", "unchanged", "source has", "error: "):
        assert words in plain, plain
    assert f"{seeded.registry.host}/demo/multi:m1" in plain
    _no_writes_no_avoidable_gets(seeded.registry.requests(), target_registry.requests())


def test_dry_run_with_listen_or_report_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("tasks: []\n")
    result = run(config, "-dry-run", "-listen=:0")
    assert result.returncode == 2
    assert "-dry-run cannot be combined with -listen or -report" in result.stderr


def test_dry_run_spends_no_pull_and_never_waits_for_the_quota(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    with QuotaProxy(seeded.registry, limit=100) as proxy:
        proxy.set_remaining(10)  # below the reserve: a run would wait 5 minutes
        config = tmp_path / "config.yaml"
        config.write_text(
            f"""
tasks:
  - name: hub
    source:
      registry: {proxy.host}
      ratelimit: {{min: 50, retry: 5m}}
    target: {{registry: {target_registry.host}}}
    mappings:
      - {{from: demo/app, to: mirror/demo/app, tags: [v1]}}
      - {{from: demo/multi, to: mirror/demo/multi, tags: [m1], platform: linux/arm64}}
"""
        )
        result = run(config, "-dry-run", timeout=60)
        seen = proxy.seen()
    assert result.returncode == 1, result.stderr
    src, dst = proxy.host, target_registry.host
    assert f"{src}/demo/app:v1 -> {dst}/mirror/demo/app:v1: copy (not at target)" in result.stderr
    # choosing a platform needs the index (a GET, a pull): the dry run says so, and waits not
    low = f"rate limit: {src} has 10 of 100 pulls left (min 50)"
    assert f"{src}/demo/multi:m1 -> {dst}/mirror/demo/multi:m1: {low}" in result.stderr
    assert "waiting" not in result.stderr
    assert [s for s in seen if s.manifest and s.method == "GET"] == []
    assert sum(s.method not in ("GET", "HEAD") for s in seen) == 0
