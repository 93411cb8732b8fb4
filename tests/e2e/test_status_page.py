"""The status page (`/`) in headless Chromium: task names, results, error texts (escaped),
and no secret anywhere the endpoint serves."""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import chromium
from tests.support.dregsy_cli import Daemon, auth_value
from tests.support.hostile_registry import MESSAGE, HostileRegistry
from tests.support.procs import require_binary
from tests.support.registry import RegistryServer
from tests.support.seed import SeededImages

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]

PASSWORD = "hunter2-secret-password"


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    return require_binary(chromium.CHROMIUM)


@pytest.fixture
def hostile() -> Iterator[HostileRegistry]:
    with HostileRegistry() as server:
        yield server


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback test URL)
        return str(response.read().decode())


def test_status_page_shows_tasks_results_and_escaped_errors(
    seeded: SeededImages,
    target_registry: RegistryServer,
    hostile: HostileRegistry,
    chromium_binary: str,
    tmp_path: Path,
) -> None:
    auth = auth_value("mirror-user", PASSWORD)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"""
tasks:
  - name: mirror-main
    interval: 3600
    source: {{registry: {seeded.registry.host}}}
    target: {{registry: {target_registry.host}, auth: {auth}}}
    mappings:
      - {{from: demo/app, to: mirror/demo/app}}
  - name: locked-out
    interval: 3600
    source: {{registry: {hostile.host}}}
    target: {{registry: {target_registry.host}, auth: {auth}}}
    mappings:
      - {{from: locked/app, to: mirror/locked, tags: [v1]}}
"""
    )
    daemon = Daemon(config, tmp_path / "dregsy.log", args=["-listen=127.0.0.1:0"])
    try:
        base = daemon.endpoint()
        daemon.wait_for("task mirror-main: 2 copied")
        daemon.wait_for("task locked-out: 0 copied, 0 skipped, 1 failed")
        dom = chromium.dump_dom(chromium_binary, base)
        shot = chromium.screenshot(chromium_binary, base, tmp_path / "status.png")
        served = [_get(base), _get(base + "api/status"), _get(base + "metrics")]
    finally:
        daemon.stop()
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one

    sections = dict(
        re.findall(r'<section class="task" id="task-([^"]+)">(.*?)</section>', dom, re.S)
    )
    assert set(sections) == {"mirror-main", "locked-out"}
    main, locked = sections["mirror-main"], sections["locked-out"]
    assert '<span class="badge success">success</span>' in main
    assert "2 copied" in main
    assert "0 failed" in main
    assert '<span class="badge failure">failure</span>' in locked
    assert "1 failed" in locked
    assert f"{hostile.host}/locked/app:v1" in locked
    # The registry's error text is shown as text: escaped, never as markup.
    escaped = MESSAGE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert escaped in locked
    assert "<img" not in dom
    assert "<b>not allowed" not in dom
    assert 'http-equiv="refresh"' in dom
    assert re.search(r"<(script|link)\b|src=\"http", dom) is None  # self-contained
    for text in [dom, *served]:
        assert PASSWORD not in text
        assert auth not in text
