"""dregsy's container image, built by ``scripts/image --local-base`` and run as users run it.

The seed's way (``docker run -v config:/config.yaml -v <socket>:/var/run/docker.sock IMAGE``)
is run against the test's own dockerd: the container's Docker relay drives the daemon that
runs it, through the mounted socket, and leaves nothing behind in it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support import skopeo
from tests.support.image import BuiltImage, DockerCli
from tests.support.registry import RegistryServer
from tests.support.seed import SeededImages

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900), pytest.mark.usefixtures("skopeo")]

UID = GID = 65532
MAX_SIZE = 250_000_000
"""Bytes: the image is ~204 MB (Debian, Python, skopeo, dregsy with boto3, google-auth, aiohttp)."""
RUN_READ_ONLY = ("run", "--rm", "--read-only", "--tmpfs", "/tmp")
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o644)
    return path


def test_image_metadata_user_entrypoint_labels_and_size(dregsy_image: BuiltImage) -> None:
    docker = dregsy_image.docker
    info = docker.inspect(dregsy_image.tag)
    config: dict[str, Any] = info["Config"]
    assert config["User"] == f"{UID}:{GID}"
    assert config["Entrypoint"] == ["/dregsy"]
    assert config["Cmd"] == ["-config=/config.yaml"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == dregsy_image.version
    assert labels["org.opencontainers.image.revision"].startswith(dregsy_image.revision)
    assert labels["org.opencontainers.image.source"]
    assert docker.inspect("dregsy:latest")["Id"] == info["Id"]
    assert info["Size"] < MAX_SIZE, info["Size"]
    assert f"built {dregsy_image.tag} and dregsy:latest" in dregsy_image.output


def test_runs_as_non_root_on_a_read_only_root_with_skopeo_and_nothing_to_build_with(
    docker: DockerCli, dregsy_image: BuiltImage
) -> None:
    version = docker.run([*RUN_READ_ONLY, "--network", "none", dregsy_image.tag, "--version"])
    assert version.stdout.strip() == f"dregsy {dregsy_image.version}"
    script = """
        set -u
        echo "ids $(id -u) $(id -g)"
        echo "dregsy-on-path $(dregsy --version)"
        echo "slash-dregsy $(/dregsy --version)"
        skopeo --version
        touch /x 2>/dev/null && echo "root-writable" || echo "root-read-only"
        touch /tmp/x && echo "tmp-writable"
        for tool in gcc cc make pip pip3 apt-get; do
          command -v "$tool" >/dev/null && echo "has $tool"
        done
        find / -xdev \\( -name pip.conf -o -name .netrc -o -name '*.whl' \\) 2>/dev/null \\
          | sed 's/^/found /'
        find /root/.cache /home/dregsy -mindepth 1 2>/dev/null | sed 's/^/home /'
        for f in /etc/apt/apt.conf.d/*; do
          [ -e "$f" ] || continue
          dpkg -S "$f" >/dev/null 2>&1 || echo "unowned $f"
        done
        true
    """
    out = docker.run(
        [*RUN_READ_ONLY, "--network", "none", "--entrypoint", "sh", dregsy_image.tag, "-c", script]
    ).stdout.splitlines()
    assert f"ids {UID} {GID}" in out
    assert f"dregsy-on-path dregsy {dregsy_image.version}" in out
    assert f"slash-dregsy dregsy {dregsy_image.version}" in out
    assert any(line.startswith("skopeo version ") for line in out), out
    assert "root-read-only" in out
    assert "tmp-writable" in out
    unwanted = [line for line in out if line.startswith(("has ", "found ", "home ", "unowned "))]
    assert unwanted == []


@pytest.mark.parametrize("access", ["group-add", "root"])
def test_seed_docker_run_line_relays_through_the_mounted_socket(
    access: str,
    docker: DockerCli,
    dregsy_image: BuiltImage,
    seeded: SeededImages,
    target_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    source = seeded.registry
    config = _write(
        tmp_path / "config.yaml",
        f"""
relay: docker
tasks:
  - name: seed
    source:
      registry: {source.host}
    target:
      registry: {target_registry.host}
    mappings:
      - from: demo/app
        to: mirror/app
        tags: ['v1', 'v2']
""",
    )
    socket = docker.daemon.socket_path
    images_before = docker.image_ids()
    # The README's two lines: the socket's group for the non-root user, or root as in the
    # seed; --network host only because the test daemon has no bridge network and the
    # registries are on loopback.
    user = (
        ["--group-add", str(os.stat(socket).st_gid)] if access == "group-add" else ["--user", "0"]
    )
    done = docker.run(
        [
            *("run", "--rm", "--network", "host", *user),
            *("-v", f"{config}:/config.yaml:ro", "-v", f"{socket}:/var/run/docker.sock"),
            dregsy_image.tag,
        ],
        timeout=300,
    )
    assert "task seed: 2 copied, 0 skipped, 0 failed" in done.stderr, done.stderr
    for tag in ("v1", "v2"):
        raw = json.loads(skopeo.inspect_raw(f"{target_registry.host}/mirror/app:{tag}"))
        # the daemon pushes its own manifest; the image config is the source's
        assert raw["mediaType"] == DOCKER_V2
        assert raw["config"]["digest"] == seeded.image(f"demo/app:{tag}").config_digest
    assert docker.image_ids() == images_before, "the relay left images in the daemon"


def test_skopeo_relay_in_the_image_keeps_digests(
    docker: DockerCli,
    dregsy_image: BuiltImage,
    seeded: SeededImages,
    target_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    source = seeded.registry
    config = _write(
        tmp_path / "config.yaml",
        f"""
relay: skopeo
tasks:
  - name: copy
    source:
      registry: {source.host}
    target:
      registry: {target_registry.host}
    mappings:
      - from: demo/app
      - from: demo/multi
""",
    )
    done = docker.run(
        [*RUN_READ_ONLY, "--network", "host", "-v", f"{config}:/config.yaml:ro", dregsy_image.tag],
        timeout=300,
    )
    assert "task copy: 3 copied, 0 skipped, 0 failed" in done.stderr, done.stderr
    for ref, digest in seeded.digests.items():
        assert skopeo.digest_of(f"{target_registry.host}/{ref}") == digest, ref
