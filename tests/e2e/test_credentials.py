"""Credentials the way users hold them, end to end: AWS ECR (moto), Google (a metadata
server), a Docker credential helper, config.json `auths`, `${VAR}` and `auth-file`.

The ECR and GCR locations keep their real host names: dregsy runs with `HTTPS_PROXY`
pointing at a local CONNECT proxy that tunnels to a local TLS registry whose certificate
names those hosts (trusted through the certs dir). Nothing leaves this machine, and dregsy
runs exactly the code users run. The run is at LOG_LEVEL=debug and every output line is
searched for every secret.
"""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.support import skopeo
from tests.support.certs import Pki, cert_pem, docker_certs_dir, key_pem
from tests.support.connect_proxy import ConnectProxy
from tests.support.credhelper import helper_calls, write_helper
from tests.support.dregsy_cli import Result, auth_value, run
from tests.support.metadata_server import MetadataServer
from tests.support.moto_server import (
    ECR_HOST,
    ECR_PASSWORD,
    ECR_USER,
    MotoServer,
    no_aws_environment,
)
from tests.support.registry import HtpasswdAuth, RegistryFactory, RegistryServer
from tests.support.seed import SeededImages

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("skopeo")]

GOOGLE_TOKEN = "ya29.test-google-token-Qm3"
USERS = {
    ECR_USER: ECR_PASSWORD,
    "oauth2accesstoken": GOOGLE_TOKEN,
    "helper-user": "helper-secret-Wz4",
    "config-user": "config-secret-Hn8",
    "env-user": "env-secret-Pk2",
    "file-user": "file-secret-Lr5",
}
CLOUD_NAMES = (ECR_HOST, "gcr.io")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secrets() -> list[str]:
    """Every secret, and the encoded forms in which it could leak."""
    found = []
    for user, password in USERS.items():
        found += [password, b64(f"{user}:{password}"), auth_value(user, password)]
    return found


@dataclass
class Cloud:
    registry: RegistryServer
    certs: Path
    moto: MotoServer
    metadata: MetadataServer
    proxy: ConnectProxy

    @property
    def cert_dir(self) -> Path:
        return self.certs / self.registry.host

    def env(self) -> dict[str, str]:
        return {
            **self.moto.env(),
            **self.metadata.env(),
            "HTTPS_PROXY": self.proxy.url,
            "NO_PROXY": "127.0.0.1,localhost",
        }


@pytest.fixture
def cloud(registry_factory: RegistryFactory, ca: Pki, tmp_path: Path) -> Iterator[Cloud]:
    """One TLS htpasswd registry that answers as ECR, gcr.io, 127.0.0.1 and localhost."""
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in (*CLOUD_NAMES, "localhost")]
    sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    cert, key = ca.ca.issue("cloud", usage=ExtendedKeyUsageOID.SERVER_AUTH, sans=tuple(sans))
    pki = tmp_path / "cloud-pki"
    pki.mkdir()
    (pki / "server.crt").write_bytes(cert_pem(cert))
    (pki / "server.key").write_bytes(key_pem(key))
    registry = registry_factory(
        "cloud",
        auth=HtpasswdAuth(USERS),
        tls=(pki / "server.crt", pki / "server.key"),
        ca=ca.ca_path,
    )
    certs = tmp_path / "certs.d"
    for host in (*CLOUD_NAMES, registry.host, f"localhost:{registry.port}"):
        docker_certs_dir(certs, host, ca.ca_path)
    with (
        MotoServer(tmp_path / "moto") as moto,
        MetadataServer(GOOGLE_TOKEN) as metadata,
        ConnectProxy(("127.0.0.1", registry.port)) as proxy,
    ):
        yield Cloud(registry, certs, moto, metadata, proxy)


def _task(name: str, source: str, target: str, to: str) -> str:
    return f"""
  - name: {name}
    source: {{registry: "{source}"}}
    target: {target}
    mappings: [{{from: demo/app, to: {to}, tags: [v1]}}]"""


def _assert_no_secret(result: Result) -> None:
    for number, line in enumerate((result.stdout + result.stderr).splitlines(), 1):
        for secret in secrets():
            assert secret not in line, f"output line {number} shows a secret: {line}"


def test_every_credential_source_at_debug_without_leaks(
    seeded: SeededImages, cloud: Cloud, tmp_path: Path
) -> None:
    port = cloud.registry.port
    local = cloud.registry.host
    bin_dir = tmp_path / "bin"
    write_helper(bin_dir, "test", {local: ("helper-user", USERS["helper-user"])})
    docker_dir = tmp_path / "docker"
    docker_dir.mkdir()
    config_auth = b64(f"config-user:{USERS['config-user']}")
    (docker_dir / "config.json").write_text(
        f'{{"credHelpers": {{"{local}": "test"}},'
        f' "auths": {{"localhost:{port}": {{"auth": "{config_auth}"}}}}}}'
    )
    (tmp_path / "target.auth").write_text(auth_value("file-user", USERS["file-user"]))
    source = seeded.registry.host
    config = tmp_path / "config.yaml"
    config.write_text(
        f"certs-dir: {cloud.certs}\ntasks:"
        + _task("ecr", source, f"{{registry: {ECR_HOST}, auth-refresh: 1h}}", "mirror/ecr")
        + _task("gcr", source, "{registry: gcr.io}", "test-project/app")
        + _task("helper", source, f'{{registry: "{local}"}}', "helper/app")
        + _task("auths", source, f'{{registry: "localhost:{port}"}}', "auths/app")
        + _task("env", source, f'{{registry: "{local}", auth: "${{TARGET_AUTH}}"}}', "env/app")
        + _task("file", source, f'{{registry: "{local}", auth-file: target.auth}}', "file/app")
        + "\n"
    )
    env = {
        **cloud.env(),
        "LOG_LEVEL": "debug",
        "DOCKER_CONFIG": str(docker_dir),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "TARGET_AUTH": auth_value("env-user", USERS["env-user"]),
    }
    result = run(config, env=env)
    assert result.returncode == 0, result.stderr
    for task in ("ecr", "gcr", "helper", "auths", "env", "file"):
        assert f"task {task}: 1 copied, 0 skipped, 0 failed" in result.stderr, result.stderr
    assert " DEBUG " in result.stderr  # the debug level was on
    _assert_no_secret(result)

    digest = seeded.digest("demo/app:v1")
    check = ("config-user", USERS["config-user"])
    for path in ("mirror/ecr", "test-project/app", "helper/app", "auths/app", "env/app"):
        ref = f"{local}/{path}:v1"
        assert (
            skopeo.digest_of(ref, creds=check, tls_verify=True, cert_dir=cloud.cert_dir) == digest
        )
    # the cloud names went through the proxy; local ones did not
    assert sorted(set(cloud.proxy.targets)) == sorted(f"{name}:443" for name in CLOUD_NAMES)
    # ECR: the repository was created through the API before the push
    ecr = boto3.client(
        "ecr",
        region_name="us-east-1",
        endpoint_url=cloud.moto.url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert "mirror/ecr" in names
    assert f"{ECR_HOST}: got ECR credentials from ecr:GetAuthorizationToken" in result.stderr
    assert cloud.metadata.token_requests == 1
    # the helper got the server URL on stdin, never a secret in argv
    assert helper_calls(bin_dir, "test") == [{"argv": ["get"], "stdin": local}]


def test_aws_error_fails_only_that_task(
    seeded: SeededImages, target_registry: RegistryServer, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "tasks:"
        + _task("ecr", seeded.registry.host, f"{{registry: {ECR_HOST}}}", "mirror/app")
        + _task("plain", seeded.registry.host, f'{{registry: "{target_registry.host}"}}', "m/app")
        + "\n"
    )
    env = {
        **no_aws_environment(),
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # never reached: no credentials to sign
        "HTTPS_PROXY": "http://127.0.0.1:9",  # nothing may leave this machine
        "NO_PROXY": "127.0.0.1,localhost",
    }
    result = run(config, env=env)
    assert result.returncode == 1, result.stderr
    assert "task plain: 1 copied, 0 skipped, 0 failed" in result.stderr
    assert "task ecr: 0 copied, 0 skipped, 1 failed" in result.stderr
    assert "ecr:DescribeRepositories: no AWS credentials found" in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ("{registry: reg.example.com, auth-refresh: 1h}", "target.auth-refresh: only works"),
        (f"{{registry: {ECR_HOST}, auth-refresh: 10 hours}}", "target.auth-refresh: "),
        ('{registry: "${TARGET_REGISTRY}"}', "TARGET_REGISTRY, which is not set"),
    ],
    ids=["refresh-not-ecr", "bad-duration", "undefined-variable"],
)
def test_bad_credential_settings_are_config_errors(
    target: str, fragment: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("tasks:" + _task("t", "s.example.com", target, "app") + "\n")
    result = run(config)
    assert result.returncode == 2, result.stderr
    (line,) = [line for line in result.stderr.splitlines() if "config error" in line]
    assert f"{config}: line 4: tasks[0].target." in line
    assert fragment in line
