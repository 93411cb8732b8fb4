"""dregsy's container image for the tests: built once by ``scripts/image --local-base``.

The image is built into a private ``dockerd`` (see :mod:`tests.support.dockerd`) exactly as
the README tells users to build it where Docker Hub is out of reach, and the tests run it
with the ``docker`` command against that daemon (``DOCKER_HOST``), never the system socket.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.dockerd import DockerDaemon
from tests.support.procs import require_binary, tail

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_TIMEOUT = 900.0
"""Seconds for the whole build: mmdebstrap (~30 s), then three stages on vfs storage."""


def repo_version() -> str:
    namespace: dict[str, Any] = {}
    init = REPO_ROOT / "src" / "dregsy" / "__init__.py"
    for line in init.read_text().splitlines():
        if line.startswith("__version__"):
            exec(line, namespace)  # noqa: S102 - a constant assignment from our own source
    return str(namespace["__version__"])


@dataclass(frozen=True)
class DockerCli:
    """The ``docker`` command, talking to one private daemon."""

    daemon: DockerDaemon

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = self.daemon.host
        return env

    def run(
        self, args: Sequence[str], *, timeout: float = 120.0, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        docker = require_binary("docker")
        done = subprocess.run(
            [docker, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args[:2])} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def inspect(self, ref: str) -> dict[str, Any]:
        out = self.run(["image", "inspect", ref]).stdout
        (info,) = json.loads(out)
        result: dict[str, Any] = info
        return result

    def image_ids(self) -> set[str]:
        return set(self.run(["image", "ls", "--all", "--quiet", "--no-trunc"]).stdout.split())

    def containers(self) -> list[str]:
        return self.run(["ps", "--all", "--quiet"]).stdout.split()


@dataclass(frozen=True)
class BuiltImage:
    """The image ``scripts/image --local-base`` built, and the daemon that holds it."""

    docker: DockerCli
    version: str
    revision: str
    """The git commit checked out when the build started."""
    output: str
    """What ``scripts/image`` printed (stdout and stderr)."""

    @property
    def tag(self) -> str:
        return f"dregsy:{self.version}"


def build_image(daemon: DockerDaemon, log: Path) -> BuiltImage:
    """Run ``bash scripts/image --local-base`` against *daemon*; its output goes to *log*."""
    docker = DockerCli(daemon)
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    with log.open("w") as out:
        done = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / "image"), "--local-base"],
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=docker.env,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise AssertionError(f"scripts/image exited {done.returncode}:\n{tail(log, 60)}")
    return BuiltImage(
        docker=docker, version=repo_version(), revision=revision, output=log.read_text()
    )
