"""The container image, built once per test session, and the daemon that holds it.

``scripts/image --local-base`` builds it into a private dockerd (never the system socket)
in about two to three minutes; every test in this package reuses that image and daemon.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.support.dockerd import DockerDaemon
from tests.support.image import BuiltImage, DockerCli, build_image


@pytest.fixture(scope="session")
def image_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerDaemon]:
    """A private dockerd for building and running dregsy's image (vfs, no bridge).

    vfs keeps a full copy of the filesystem per layer (GBs), so its data root is removed
    once the daemon has stopped.
    """
    with DockerDaemon(tmp_path_factory.mktemp("image-dockerd")) as daemon:
        yield daemon
    shutil.rmtree(daemon.workdir / "root", ignore_errors=True)


@pytest.fixture(scope="session")
def dregsy_image(
    image_daemon: DockerDaemon, tmp_path_factory: pytest.TempPathFactory
) -> BuiltImage:
    """``bash scripts/image --local-base``, run once; the image is ``dregsy_image.tag``."""
    return build_image(image_daemon, tmp_path_factory.mktemp("image-build") / "build.log")


@pytest.fixture
def docker(dregsy_image: BuiltImage) -> Iterator[DockerCli]:
    """The ``docker`` command for the image's daemon; fails a test that leaves containers."""
    cli = dregsy_image.docker
    yield cli
    leftover = cli.containers()
    if leftover:
        cli.run(["rm", "--force", *leftover])
        pytest.fail(f"containers left behind: {leftover}")
