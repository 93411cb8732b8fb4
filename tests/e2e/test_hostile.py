"""dregsy against hostile and broken registries (issue 16): one test per misbehaviour.

Each runs the real `dregsy` command at LOG_LEVEL=debug, in text and in JSON, against
`tests.support.hostile.HostileRegistry` (target: a second one, empty), and checks the exit
status, one clear error line naming the image, no traceback, no secret in any output, the
peak memory of the process, where credentials went, and that the target holds no tag
pointing at missing content.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.hostile import (
    CDN_TOKEN,
    HUGE,
    SECRETS,
    TAG,
    HostileRegistry,
    sha256,
)
from tests.support.measured import Measured, config_file, run_measured

pytestmark = pytest.mark.e2e

FORMATS = ("text", "json")
# A run of dregsy peaks at about 32 MiB here; an endless body read whole passes HUGE (128
# MiB) at once.
MEMORY_LIMIT_MIB = 80
assert HUGE > 1.5 * MEMORY_LIMIT_MIB * 1024 * 1024

Run = Callable[..., Measured]


@pytest.fixture(params=FORMATS)
def log_format(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def target() -> Iterator[HostileRegistry]:
    with HostileRegistry("ok", empty=True) as server:
        yield server


def start(mode: str, **kwargs: object) -> HostileRegistry:
    return HostileRegistry(mode, **kwargs).start()  # type: ignore[arg-type]


@pytest.fixture
def servers() -> Iterator[list[HostileRegistry]]:
    started: list[HostileRegistry] = []
    yield started
    for server in started:
        server.stop()


def run(
    tmp_path: Path,
    log_format: str,
    source: HostileRegistry,
    target: HostileRegistry,
    *,
    tags: bool = True,
    top: str = "",
    timeout: float = 60,
    during: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> Measured:
    extra = f"\n        tags: [{TAG}]" if tags else ""
    config = config_file(tmp_path, source.address, target.address, extra, top)
    docker = tmp_path / "docker"
    docker.mkdir(exist_ok=True)
    env = {"LOG_LEVEL": "debug", "LOG_FORMAT": log_format, "DOCKER_CONFIG": str(docker)}
    return run_measured([f"-config={config}"], env=env, timeout=timeout, during=during)


def image(source: HostileRegistry) -> str:
    return f"{source.address}/hostile/app:{TAG}"


def check(
    result: Measured,
    log_format: str,
    *,
    status: int,
    error: str | None = None,
    naming: str | None = None,
) -> None:
    """Exit status; with `error`, exactly one error line naming `naming` and saying it; no
    traceback, no secret, bounded memory."""
    assert result.returncode == status, result.output
    assert "Traceback" not in result.output, result.output
    for secret in SECRETS:
        assert secret not in result.output
    assert result.peak_rss_mib < MEMORY_LIMIT_MIB, f"peak RSS {result.peak_rss_mib:.0f} MiB"
    errors = result.errors(log_format == "json")
    if error is not None:
        assert naming is not None
        lines = [line for line in errors if naming in line]
        assert len(lines) == 1, errors
        assert error in lines[0], lines[0]
    if log_format == "json":
        for line in result.stderr.splitlines():
            json.loads(line)  # every line is one JSON object


def check_target(target: HostileRegistry, source: HostileRegistry, *, copied: bool) -> None:
    """No tag at the target points at missing content; a copy has the source's digest."""
    store = target.store
    for digest in store.tags.values():
        _, raw = store.manifests[digest]
        doc = json.loads(raw, parse_int=len)  # a 5,000-digit integer is fine here
        for desc in [doc["config"], *doc["layers"]]:
            assert desc["digest"] in store.blobs
            assert sha256(store.blobs[desc["digest"]]) == desc["digest"]
    if copied:
        assert store.tags == {TAG: source.manifest_digest}
        assert sha256(store.manifests[source.manifest_digest][1]) == source.manifest_digest
    else:
        assert store.tags == {}


def no_credentials_elsewhere(*servers: HostileRegistry) -> None:
    """Only the registries themselves saw credentials; their CDN none at all."""
    for server in servers:
        for seen in server.seen:
            if seen.server == "cdn":
                assert seen.authorization is None, seen


# -- 1. unbounded reads -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["ping-huge", "401-huge", "redirect-huge"])
def test_endless_bodies_are_not_read(
    mode: str,
    log_format: str,
    target: HostileRegistry,
    servers: list[HostileRegistry],
    tmp_path: Path,
) -> None:
    """An endless ping answer, 401 body or redirect body: never read, and the copy works."""
    cdn = start("ok", host="127.0.0.2", is_cdn=True)
    source = start(mode, cdn=cdn, seen=cdn.seen)
    cdn.cdn = source
    servers += [cdn, source]
    result = run(tmp_path, log_format, source, target)
    check(result, log_format, status=0)
    check_target(target, source, copied=True)
    no_credentials_elsewhere(source)


def test_endless_token_response(
    log_format: str, target: HostileRegistry, servers: list[HostileRegistry], tmp_path: Path
) -> None:
    source = start("token-huge")
    servers.append(source)
    result = run(tmp_path, log_format, source, target)
    check(result, log_format, status=1, error="larger than 64 KiB", naming=image(source))
    check_target(target, source, copied=False)


# -- 2. credentials and a redirect target's 401 -----------------------------------------------


def test_redirect_target_asking_for_credentials_gets_none(
    log_format: str, target: HostileRegistry, servers: list[HostileRegistry], tmp_path: Path
) -> None:
    cdn = start("cdn-401", host="127.0.0.2", is_cdn=True)
    source = start("redirect-cdn", cdn=cdn, seen=cdn.seen)
    cdn.cdn = source
    servers += [cdn, source]
    result = run(tmp_path, log_format, source, target)
    check(result, log_format, status=1, error="HTTP 401", naming=image(source))
    assert [s.path for s in cdn.seen if s.server == "cdn" and s.path == "/token"] == []
    no_credentials_elsewhere(source)
    assert CDN_TOKEN not in result.output
    check_target(target, source, copied=False)


# -- 3. a token that cannot be a header -------------------------------------------------------


def test_token_with_newline_is_refused_unquoted(
    log_format: str, target: HostileRegistry, servers: list[HostileRegistry], tmp_path: Path
) -> None:
    source = start("token-newline")
    servers.append(source)
    result = run(tmp_path, log_format, source, target)
    check(result, log_format, status=1, error="token", naming=image(source))
    check_target(target, source, copied=False)


# -- 4. log injection ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["error-injection", "tag-injection"])
def test_remote_text_cannot_forge_log_lines(
    mode: str,
    log_format: str,
    target: HostileRegistry,
    servers: list[HostileRegistry],
    tmp_path: Path,
) -> None:
    source = start(mode)
    servers.append(source)
    result = run(tmp_path, log_format, source, target, tags=mode == "error-injection")
    if mode == "error-injection":
        check(result, log_format, status=1, error="manifest unknown", naming=image(source))
    else:  # the invalid tag is skipped with a warning; the valid one is copied
        check(result, log_format, status=0)
        assert "not a valid tag" in result.stderr
    assert "\x1b" not in result.stderr
    assert "\x07" not in result.stderr
    assert "\r" not in result.stderr
    for line in result.stderr.splitlines():
        assert "FORGED" not in line or not line.startswith("2026-01-01"), line
    check_target(target, source, copied=mode == "tag-injection")


# -- 5. a stop during a one-off run -----------------------------------------------------------


def test_sigterm_during_a_one_off_copy_is_a_failure(
    log_format: str, target: HostileRegistry, servers: list[HostileRegistry], tmp_path: Path
) -> None:
    source = start("slow-blob", layer_size=1024 * 1024)
    servers.append(source)
    layer = f"/v2/hostile/app/blobs/{sha256(source.layer_blob)}"

    def stop_mid_copy(process: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 20
        while not any(s.path == layer and s.method == "GET" for s in source.seen):
            assert time.monotonic() < deadline, "the blob download never started"
            time.sleep(0.05)
        time.sleep(0.2)
        os.kill(process.pid, signal.SIGTERM)

    result = run(tmp_path, log_format, source, target, during=stop_mid_copy)
    check(result, log_format, status=1, error="cancelled", naming=image(source))
    assert "all syncs succeeded" not in result.output
    check_target(target, source, copied=False)


# -- 6. bodies cut off ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["truncated-manifest", "truncated-tags"])
def test_cut_off_bodies_are_network_errors(
    mode: str,
    log_format: str,
    target: HostileRegistry,
    servers: list[HostileRegistry],
    tmp_path: Path,
) -> None:
    source = start(mode)
    servers.append(source)
    result = run(tmp_path, log_format, source, target, tags=mode == "truncated-manifest")
    naming = image(source) if mode == "truncated-manifest" else f"{source.address}/hostile/app"
    check(result, log_format, status=1, error="closed the connection", naming=naming)
    gets = [
        s for s in source.seen if s.method == "GET" and ("manifests" in s.path or "tags" in s.path)
    ]
    assert len(gets) == 3  # asked three times
    check_target(target, source, copied=False)


def test_cut_off_once_is_asked_again(
    log_format: str, target: HostileRegistry, servers: list[HostileRegistry], tmp_path: Path
) -> None:
    source = start("truncated-once")
    servers.append(source)
    result = run(tmp_path, log_format, source, target)
    check(result, log_format, status=0)
    check_target(target, source, copied=True)


# -- 7. redirects and upload locations --------------------------------------------------------


@pytest.mark.parametrize(
    ("source_mode", "target_mode", "error"),
    [
        ("redirect-loop", "ok", "more than 10 redirects"),
        ("redirect-gopher", "ok", "only http and https"),
        ("ok", "upload-307", "cannot be done"),
        ("ok", "upload-file", "only http and https"),
    ],
)
def test_bad_redirects_and_locations_are_refused(
    source_mode: str,
    target_mode: str,
    error: str,
    log_format: str,
    servers: list[HostileRegistry],
    tmp_path: Path,
) -> None:
    source = start(source_mode)
    target = start(target_mode, empty=True)
    servers += [source, target]
    result = run(tmp_path, log_format, source, target)
    check(result, log_format, status=1, error=error, naming=image(source))
    check_target(target, source, copied=False)


# -- 8. legal but odd JSON --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "status"),
    [("bigint-manifest", 0), ("deep-manifest", 1), ("token-expires-huge", 0)],
)
def test_odd_json(
    mode: str,
    status: int,
    log_format: str,
    target: HostileRegistry,
    servers: list[HostileRegistry],
    tmp_path: Path,
) -> None:
    source = start(mode)
    servers.append(source)
    result = run(tmp_path, log_format, source, target)
    if status:
        check(result, log_format, status=1, error="nested too deeply", naming=image(source))
    else:
        check(result, log_format, status=0)
    check_target(target, source, copied=status == 0)


# -- weak points: stalls and endless tag lists ------------------------------------------------


def test_stalled_blob_download_fails_and_is_tried_again(
    log_format: str, target: HostileRegistry, servers: list[HostileRegistry], tmp_path: Path
) -> None:
    """A layer sent at 20 bytes a second: each attempt fails after `stall-timeout`."""
    source = start("trickle-blob", layer_size=1024 * 1024)
    servers.append(source)
    result = run(tmp_path, log_format, source, target, top="stall-timeout: 1s")
    check(result, log_format, status=1, error="stalled", naming=image(source))
    layer = f"/v2/hostile/app/blobs/{sha256(source.layer_blob)}"
    assert len([s for s in source.seen if s.method == "GET" and s.path == layer]) == 3
    check_target(target, source, copied=False)


def test_endless_tag_list_is_capped(
    log_format: str, target: HostileRegistry, servers: list[HostileRegistry], tmp_path: Path
) -> None:
    source = start("endless-tags")
    servers.append(source)
    result = run(tmp_path, log_format, source, target, tags=False, top="max-tags: 5000")
    naming = f"{source.address}/hostile/app"
    check(result, log_format, status=1, error="more than 5000 tags", naming=naming)
    pages = [s for s in source.seen if s.path.endswith("/tags/list")]
    assert len(pages) == 6
    check_target(target, source, copied=False)
