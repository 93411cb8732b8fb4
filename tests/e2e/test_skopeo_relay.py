"""The skopeo relay against real registries and the real skopeo 1.9.3: `dregsy -config=...`
with `relay: skopeo`, checked independently with skopeo; plus cancellation of a copy in
flight, driven in-process (the only way to reach the moment a skopeo child is running).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import tempfile
from pathlib import Path

import pytest

from dregsy.auth.select import CredentialSources
from dregsy.config.types import Credentials, Location, SkopeoSettings
from dregsy.reference import parse_registry
from dregsy.registry.directory import RegistryDirectory
from dregsy.registry.pool import HttpPool, HttpSettings
from dregsy.relays.base import ImageJob
from dregsy.relays.skopeo import SkopeoRelay
from dregsy.relays.skopeoargs import auth_token
from tests.support import skopeo
from tests.support.accesslog import count
from tests.support.certs import Pki
from tests.support.dregsy_cli import auth_value, run
from tests.support.registry import HtpasswdAuth, RegistryFactory, RegistryServer
from tests.support.seed import SeededImages, seed_images
from tests.support.users import ALICE, BOB, TEST_USERS

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _private_tmp(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A TMPDIR for dregsy, to check that the relay's private auth directories are gone."""
    directory = tmp_path / "dregsy-tmp"
    directory.mkdir()
    return directory, {"TMPDIR": str(directory)}


def test_seed_config_through_skopeo_with_basic_auth_on_both_sides(
    registry_factory: RegistryFactory, htpasswd_registry: RegistryServer, tmp_path: Path
) -> None:
    target = registry_factory("htpasswd-target", auth=HtpasswdAuth(TEST_USERS))
    seeded = seed_images(htpasswd_registry, tmp_path / "layout", creds=ALICE)
    source_auth, target_auth = auth_value(*ALICE), auth_value(*BOB)
    # the README's (the seed's) config example, pointed at local registries
    config = _write(
        tmp_path / "config.yaml",
        f"""
relay: skopeo
tasks:
  - name: task1
    verbose: true
    source:
      registry: {htpasswd_registry.host}
      auth: {source_auth}
    target:
      registry: {target.host}
      auth: {target_auth}
    mappings:
      - from: demo/app
        to: archive/demo/app
        tags: ['v1', 'v2']
      - from: demo/multi
""",
    )
    private_tmp, env = _private_tmp(tmp_path)
    first = run(config, env={"LOG_LEVEL": "debug", **env})
    assert first.returncode == 0, first.stderr
    assert "skopeo relay" in first.stderr
    assert "task task1: 3 copied, 0 skipped, 0 failed" in first.stderr
    assert "skopeo: Writing manifest to image destination" in first.stderr  # verbose: output
    for tag in ("v1", "v2"):
        ref = f"{target.host}/archive/demo/app:{tag}"
        assert skopeo.digest_of(ref, creds=BOB) == seeded.digest(f"demo/app:{tag}")
    index = seeded.index("demo/multi:m1")
    raw = skopeo.inspect_raw(f"{target.host}/demo/multi:m1", creds=BOB)
    assert raw == index.manifest_bytes  # the index byte for byte
    for child in index.images:
        ref = f"{target.host}/demo/multi@{child.digest}"
        assert skopeo.digest_of(ref, creds=BOB) == child.digest
    assert count(target.requests(), method="PUT", endpoint="manifests") == 5  # 2 + index + 2
    assert {e.user_agent.split("/")[0] for e in target.requests() if e.method == "PUT"} == {
        "skopeo"
    }
    assert not list(private_tmp.iterdir())  # auth files removed
    # not a secret anywhere, even at debug level with verbose output
    secrets = [ALICE[1], BOB[1], source_auth, target_auth]
    secrets += [auth_token(Credentials(*ALICE)), auth_token(Credentials(*BOB))]
    output = first.stdout + first.stderr
    assert not [s for s in secrets if s in output]

    htpasswd_registry.clear_requests()
    target.clear_requests()
    second = run(config, env=env)
    assert second.returncode == 0, second.stderr
    assert "task task1: 0 copied, 3 skipped, 0 failed" in second.stderr
    dst_log = target.requests()
    assert count(dst_log, method="PUT") == 0
    assert count(dst_log, method="POST") == 0
    assert count(dst_log, method="PATCH") == 0
    assert count(htpasswd_registry.requests(), method="GET", endpoint="blobs") == 0
    assert not [e for e in dst_log if e.user_agent.startswith("skopeo")]


def test_platform_copies_just_that_image(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    config = _write(
        tmp_path / "config.yaml",
        f"""
relay: skopeo
tasks:
  - name: arm
    source: {{registry: {seeded.registry.host}}}
    target: {{registry: {target_registry.host}}}
    mappings:
      - from: demo/multi
        to: arm/multi
        platform: linux/arm64
""",
    )
    result = run(config)
    assert result.returncode == 0, result.stderr
    arm64 = seeded.index("demo/multi:m1").image_for("linux", "arm64")
    assert skopeo.digest_of(f"{target_registry.host}/arm/multi:m1") == arm64.digest
    amd64 = seeded.index("demo/multi:m1").image_for("linux", "amd64")
    with pytest.raises(skopeo.SkopeoError):  # the other platform was not copied
        skopeo.inspect_raw(f"{target_registry.host}/arm/multi@{amd64.digest}")


def test_platform_rerun_moves_nothing(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    config = _write(
        tmp_path / "config.yaml",
        f"""
relay: skopeo
tasks:
  - name: arm
    source: {{registry: {seeded.registry.host}}}
    target: {{registry: {target_registry.host}}}
    mappings: [{{from: demo/multi, platform: linux/arm64}}]
""",
    )
    assert run(config).returncode == 0
    second = run(config)
    assert "task arm: 0 copied, 1 skipped, 0 failed" in second.stderr, second.stderr


def _tls_config(tmp_path: Path, source: str, target: str, top: str, to: str = "mirror/app") -> Path:
    return _write(
        tmp_path / "config.yaml",
        f"""
relay: skopeo
{top}
tasks:
  - name: tls
    source: {{registry: {source}}}
    target: {{registry: "https://{target}"}}
    mappings:
      - from: demo/app
        to: {to}
        tags: [v1]
""",
    )


def _dregsy_certs_dir(root: Path, ca: Pki) -> Path:
    """dregsy's skopeo layout: `<root>/<host without port>/ca.crt`."""
    (root / "127.0.0.1").mkdir(parents=True)
    (root / "127.0.0.1" / "ca.crt").write_bytes(ca.ca_path.read_bytes())
    return root


def _docker_certs_dir(root: Path, host: str, ca: Pki) -> Path:
    """The native client's layout: `<root>/<host:port>/ca.crt`."""
    (root / host).mkdir(parents=True)
    (root / host / "ca.crt").write_bytes(ca.ca_path.read_bytes())
    return root


def test_tls_target_through_skopeo_certs_dir(
    seeded: SeededImages, tls_registry: RegistryServer, ca: Pki, tmp_path: Path
) -> None:
    # The runner's own checks (tags, HEAD) go through the native registry client, which
    # reads the top-level `certs-dir` (`<host:port>/`); skopeo reads `skopeo.certs-dir`.
    docker_dir = _docker_certs_dir(tmp_path / "docker-certs", tls_registry.host, ca)
    skopeo_dir = _dregsy_certs_dir(tmp_path / "skopeo-certs", ca)
    top = f"certs-dir: {docker_dir}\nskopeo: {{certs-dir: {skopeo_dir}}}"
    config = _tls_config(tmp_path, seeded.registry.host, tls_registry.host, top)
    result = run(config)
    assert result.returncode == 0, result.stderr
    ref = f"{tls_registry.host}/mirror/app:v1"
    cert_dir = skopeo_dir / "127.0.0.1"
    assert skopeo.digest_of(ref, tls_verify=True, cert_dir=cert_dir) == seeded.digest("demo/app:v1")
    # without skopeo's certs dir, skopeo itself refuses the unknown CA
    empty = tmp_path / "empty"
    empty.mkdir()
    top = f"certs-dir: {docker_dir}\nskopeo: {{certs-dir: {empty}}}"
    config = _tls_config(tmp_path, seeded.registry.host, tls_registry.host, top, "other/app")
    refused = run(config)
    assert refused.returncode == 1
    assert f"{seeded.registry.host}/demo/app:v1" in refused.stderr
    assert "skopeo: " in refused.stderr
    assert "certificate signed by unknown authority" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_tls_target_with_only_skopeo_certs_dir(
    seeded: SeededImages, tls_registry: RegistryServer, ca: Pki, tmp_path: Path
) -> None:
    """A dregsy 0.5 config: only `skopeo.certs-dir`, as dregsy's skopeo relay needs."""
    skopeo_dir = _dregsy_certs_dir(tmp_path / "skopeo-certs", ca)
    top = f"skopeo: {{certs-dir: {skopeo_dir}}}"
    result = run(_tls_config(tmp_path, seeded.registry.host, tls_registry.host, top))
    assert result.returncode == 0, result.stderr


def test_missing_binary_is_a_clear_start_error(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "config.yaml",
        """
relay: skopeo
skopeo: {binary: /nonexistent/skopeo}
tasks:
  - name: t
    source: {registry: 127.0.0.1:9}
    target: {registry: 127.0.0.1:9}
    mappings: [{from: a/b}]
""",
    )
    result = run(config)
    assert result.returncode == 1, result.stderr
    assert "binary '/nonexistent/skopeo' not found" in result.stderr
    assert "Traceback" not in result.stderr
    assert "task t:" not in result.stderr  # nothing ran


def _delete_blob(registry: RegistryServer, digest: str) -> None:
    algorithm, hexa = digest.split(":")
    data = registry.data_dir / "docker/registry/v2/blobs" / algorithm / hexa[:2] / hexa / "data"
    data.unlink()


def test_failing_copy_shows_skopeos_message_and_the_rest_goes_on(
    registry_factory: RegistryFactory, htpasswd_registry: RegistryServer, tmp_path: Path
) -> None:
    target = registry_factory("htpasswd-target", auth=HtpasswdAuth(TEST_USERS))
    seeded = seed_images(htpasswd_registry, tmp_path / "layout", creds=ALICE)
    # the manifest is still there (the runner's checks pass), a layer is not: skopeo fails
    _delete_blob(htpasswd_registry, seeded.image("demo/app:v1").layer_digests[0])
    source_auth, target_auth = auth_value(*ALICE), auth_value(*BOB)
    config = _write(
        tmp_path / "config.yaml",
        f"""
relay: skopeo
tasks:
  - name: partly
    source: {{registry: {htpasswd_registry.host}, auth: {source_auth}}}
    target: {{registry: {target.host}, auth: {target_auth}}}
    mappings:
      - from: demo/app
      - from: demo/multi
""",
    )
    result = run(config, env={"LOG_LEVEL": "debug"})
    assert result.returncode == 1
    assert "task partly: 2 copied, 0 skipped, 1 failed" in result.stderr
    failed = [line for line in result.lines if "ERROR" in line]
    assert len(failed) == 1, result.stderr
    assert f"{htpasswd_registry.host}/demo/app:v1 -> {target.host}/demo/app:v1" in failed[0]
    assert "skopeo: " in failed[0]
    assert "blob" in failed[0], failed[0]  # skopeo's own words: its stream broke off
    assert "time=" not in failed[0]
    assert "Traceback" not in result.stderr
    assert skopeo.digest_of(f"{target.host}/demo/app:v2", creds=BOB) == seeded.digest("demo/app:v2")
    output = result.stdout + result.stderr
    for secret in (ALICE[1], BOB[1], source_auth, target_auth, auth_token(Credentials(*ALICE))):
        assert secret not in output


async def test_credentials_from_the_shared_sources_reach_skopeo(
    htpasswd_registry: RegistryServer, target_registry: RegistryServer, tmp_path: Path
) -> None:
    """A location without `auth`: the credential sources find Docker's config.json (not
    where skopeo looks by itself), and the relay hands the credentials on in its auth file."""
    seeded = seed_images(htpasswd_registry, tmp_path / "layout", creds=ALICE)
    docker_config = tmp_path / "docker" / "config.json"
    docker_config.parent.mkdir()
    token = auth_token(Credentials(*ALICE))
    docker_config.write_text(json.dumps({"auths": {htpasswd_registry.host: {"auth": token}}}))
    pool = HttpPool(HttpSettings(certs_dir=tmp_path / "no-certs"))
    registries = RegistryDirectory(pool, CredentialSources(docker_config=docker_config))
    source = Location(parse_registry(htpasswd_registry.host))
    target = Location(parse_registry(target_registry.host))
    digest = seeded.digest("demo/app:v1")
    job = ImageJob(
        source=source.registry.repository("demo/app").tag("v1"),
        target=target.registry.repository("from-config/app").tag("v1"),
        source_location=source,
        target_location=target,
        digest=digest,
    )
    relay = SkopeoRelay(SkopeoSettings(certs_dir=tmp_path / "no-certs"), registries)
    try:
        await relay.prepare()
        await relay.copy(job, relay.new_run())
    finally:
        await relay.aclose()
        await pool.aclose()
    assert skopeo.digest_of(f"{target_registry.host}/from-config/app:v1") == digest


def _skopeo_children(marker: str) -> list[tuple[int, list[str]]]:
    """Running processes whose command line mentions `marker`, with their argv."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode().split("\0")
        except OSError:
            continue
        if any(marker in arg for arg in argv) and Path(argv[0]).name == "skopeo":
            found.append((int(entry.name), argv))
    return found


def _modes(files: list[Path]) -> set[tuple[int, int]]:
    """(file mode, directory mode) of each file."""
    return {(stat.S_IMODE(f.stat().st_mode), stat.S_IMODE(f.parent.stat().st_mode)) for f in files}


def _exists(path: Path) -> bool:
    return path.exists()


async def test_cancelled_copy_kills_skopeo_and_removes_auth_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # a source that accepts connections and never answers: skopeo hangs in its TLS handshake
    held: list[asyncio.StreamWriter] = []
    server = await asyncio.start_server(lambda _, writer: held.append(writer), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    marker = f"cancel-{os.getpid()}/app"
    source = Location(parse_registry(f"127.0.0.1:{port}"), credentials=Credentials(*ALICE))
    target = Location(parse_registry("127.0.0.1:9"), credentials=Credentials(*BOB))
    job = ImageJob(
        source=source.registry.repository(marker).tag("v1"),
        target=target.registry.repository(marker).tag("v1"),
        source_location=source,
        target_location=target,
        digest="sha256:" + "0" * 64,
    )
    relay = SkopeoRelay(SkopeoSettings(certs_dir=tmp_path / "no-certs"))
    await relay.prepare()
    copy = asyncio.create_task(relay.copy(job, relay.new_run()))
    try:
        for _ in range(200):
            children = _skopeo_children(marker)
            if children:
                break
            await asyncio.sleep(0.02)
        assert len(children) == 1
        pid, argv = children[0]
        joined = " ".join(argv)
        assert not [s for s in (ALICE[1], BOB[1], auth_token(Credentials(*ALICE))) if s in joined]
        auth_files = [Path(a.split("=", 1)[1]) for a in argv if "-authfile=" in a]
        assert len(auth_files) == 2
        assert _modes(auth_files) == {(0o600, 0o700)}  # private files in a private directory
    finally:
        copy.cancel()
        with pytest.raises(asyncio.CancelledError):
            await copy
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()
    assert not _exists(Path(f"/proc/{pid}"))  # killed and reaped
    assert not _exists(auth_files[0].parent)
