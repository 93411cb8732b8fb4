"""TLS through a certs directory, partial failures, and registry errors named per image."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import skopeo
from tests.support.certs import Pki, docker_certs_dir
from tests.support.dregsy_cli import run
from tests.support.registry import RegistryFactory, RegistryServer
from tests.support.seed import SeededImages

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]


def _config(tmp_path: Path, source: str, target: str, extra: str = "", top: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""{top}
tasks:
  - name: t
    source: {{registry: "{source}"}}
    target: {{registry: "{target}"{extra}}}
    mappings:
      - from: demo/app
        to: mirror/app
"""
    )
    return path


def test_tls_target_trusted_through_certs_dir(
    seeded: SeededImages, tls_registry: RegistryServer, ca: Pki, tmp_path: Path
) -> None:
    certs = tmp_path / "certs.d"
    docker_certs_dir(certs, tls_registry.host, ca.ca_path)
    config = _config(tmp_path, seeded.registry.host, tls_registry.host, top=f"certs-dir: {certs}")
    result = run(config)
    assert result.returncode == 0, result.stderr
    ref = f"{tls_registry.host}/mirror/app:v1"
    assert skopeo.digest_of(ref, tls_verify=False) == seeded.digest("demo/app:v1")
    # HTTPS was used, not a fallback to plain HTTP
    assert tls_registry.requests()


def test_tls_target_unknown_ca_fails_clearly(
    seeded: SeededImages, tls_registry: RegistryServer, tmp_path: Path
) -> None:
    config = _config(tmp_path, seeded.registry.host, tls_registry.host)
    result = run(config)
    assert result.returncode == 1
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr or "certificate" in result.stderr
    assert "Traceback" not in result.stderr
    assert f"{seeded.registry.host}/demo/app:v1" in result.stderr


def test_skip_tls_verify(
    seeded: SeededImages, tls_registry: RegistryServer, tmp_path: Path
) -> None:
    config = _config(
        tmp_path, seeded.registry.host, f"https://{tls_registry.host}", ", skip-tls-verify: true"
    )
    result = run(config)
    assert result.returncode == 0, result.stderr
    assert skopeo.digest_of(f"{tls_registry.host}/mirror/app:v2") == seeded.digest("demo/app:v2")


def test_failure_is_named_and_the_rest_goes_on(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        f"""
tasks:
  - name: partly-broken
    source: {{registry: {seeded.registry.host}}}
    target: {{registry: {target_registry.host}}}
    mappings:
      - from: demo/app
        tags: ['v1', 'no-such-tag']
      - from: does/not-exist
      - from: demo/multi
"""
    )
    result = run(path)
    assert result.returncode == 1
    assert f"{seeded.registry.host}/demo/app:no-such-tag" in result.stderr
    assert "does/not-exist" in result.stderr
    assert "2 copied, 0 skipped, 2 failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert skopeo.digest_of(f"{target_registry.host}/demo/app:v1") == seeded.digest("demo/app:v1")
    assert skopeo.digest_of(f"{target_registry.host}/demo/multi:m1") == seeded.digest(
        "demo/multi:m1"
    )


def test_unreachable_registry(seeded: SeededImages, tmp_path: Path) -> None:
    config = _config(tmp_path, seeded.registry.host, "127.0.0.1:9")  # discard port: closed
    result = run(config)
    assert result.returncode == 1
    assert "cannot reach registry 127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def test_client_certificate_from_certs_dir(
    seeded: SeededImages,
    registry_factory: RegistryFactory,
    ca: Pki,
    tmp_path: Path,
) -> None:
    client = ca.client_pair(tmp_path / "client")
    mtls = registry_factory(
        "mtls",
        tls=(ca.server.cert_path, ca.server.key_path),
        ca=ca.ca_path,
        client_ca=ca.ca_path,
        client_cert=(client.cert_path, client.key_path),
    )
    certs = tmp_path / "certs.d"
    host_dir = docker_certs_dir(certs, mtls.host, ca.ca_path, client)
    config = _config(tmp_path, seeded.registry.host, mtls.host, top=f"certs-dir: {certs}")
    result = run(config)
    assert result.returncode == 0, result.stderr
    ref = f"{mtls.host}/mirror/app:v1"
    assert skopeo.digest_of(ref, tls_verify=True, cert_dir=host_dir) == seeded.digest("demo/app:v1")
    # without the client pair the registry refuses the connection
    (host_dir / "client.cert").unlink()
    (host_dir / "client.key").unlink()
    config = _config(tmp_path, seeded.registry.host, mtls.host, top=f"certs-dir: {certs}")
    refused = run(config)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr, refused.stderr
