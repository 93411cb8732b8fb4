"""Shared pytest fixtures: real registries, test PKI, token server, skopeo, seed images.

Registries are cheap (~0.05 s to start), so they are function-scoped: each test gets its
own, on a random loopback port, in its own ``tmp_path`` subdirectory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import skopeo as skopeo_tool
from tests.support.certs import Pki, make_test_pki
from tests.support.dockerd import DockerDaemon
from tests.support.procs import require_binary
from tests.support.registry import HtpasswdAuth, RegistryFactory, RegistryServer
from tests.support.seed import SeededImages, seed_images
from tests.support.token_server import TokenServer
from tests.support.users import TEST_USERS


@pytest.fixture(name="skopeo", scope="session")
def skopeo_fixture() -> str:
    """Path of the skopeo binary; clears skopeo's shared blob-info cache once per session.

    Depend on it in any test that runs skopeo (skipped locally, failed in CI if missing).
    """
    path = require_binary(skopeo_tool.SKOPEO)
    skopeo_tool.clear_blob_info_cache()
    return path


@pytest.fixture(scope="session")
def registry_binary() -> str:
    """Path of ``docker-registry`` (skipped locally, failed in CI if missing)."""
    return require_binary("docker-registry")


@pytest.fixture
def registry_factory(registry_binary: str, tmp_path: Path) -> Iterator[RegistryFactory]:
    """Call it to start a registry: ``registry_factory("name", auth=..., tls=..., ca=...)``.

    Each one lives in ``tmp_path/<name>``; all are stopped at teardown.
    """
    factory = RegistryFactory(tmp_path / "registries")
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture
def source_registry(registry_factory: RegistryFactory) -> RegistryServer:
    """A plain-HTTP registry without auth, meant as a sync source."""
    return registry_factory("source")


@pytest.fixture
def target_registry(registry_factory: RegistryFactory) -> RegistryServer:
    """A plain-HTTP registry without auth, meant as a sync target."""
    return registry_factory("target")


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Session test PKI: ``ca.crt`` (CN dregsy-test-ca) and ``server.crt``/``server.key``
    for 127.0.0.1, ::1 and localhost. ``ca.client_pair(dir)`` issues client certificates."""
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def token_server(tmp_path: Path) -> Iterator[TokenServer]:
    """A running token server with users alice/secret1 and bob/secret2, no anonymous pull.

    ``token_server.registry_auth()`` configures a registry for it; ``.requests`` records
    every token request.
    """
    with TokenServer(tmp_path / "token", users=TEST_USERS) as server:
        yield server


@pytest.fixture
def htpasswd_registry(registry_factory: RegistryFactory) -> RegistryServer:
    """A plain-HTTP registry with Basic auth for alice/secret1 and bob/secret2."""
    return registry_factory("htpasswd", auth=HtpasswdAuth(TEST_USERS))


@pytest.fixture
def tls_registry(registry_factory: RegistryFactory, ca: Pki) -> RegistryServer:
    """An HTTPS registry without auth, serving the ``ca`` fixture's server certificate."""
    return registry_factory("tls", tls=(ca.server.cert_path, ca.server.key_path), ca=ca.ca_path)


@pytest.fixture
def token_registry(registry_factory: RegistryFactory, token_server: TokenServer) -> RegistryServer:
    """A plain-HTTP registry with token auth delegated to the ``token_server`` fixture."""
    return registry_factory("token", auth=token_server.registry_auth())


@pytest.fixture
def seeded(skopeo: str, source_registry: RegistryServer, tmp_path: Path) -> SeededImages:
    """``source_registry`` seeded with demo/app:v1, demo/app:v2 and demo/multi:m1.

    Use :func:`tests.support.seed.seed_images` directly to seed other registries.
    """
    return seed_images(source_registry, tmp_path / "seed-layout")


@pytest.fixture(scope="session")
def docker_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockerDaemon]:
    """One real ``dockerd`` for the session (vfs, no networking changes, private socket,
    and a plain TCP listener on loopback: ``.host`` is ``unix://...``, ``.tcp_host`` ``tcp://...``).

    Slow to stop (~2 s), so it is shared; use the function-scoped ``dockerd`` fixture.
    Skipped locally, failed in CI, if ``dockerd`` is missing.
    """
    with DockerDaemon(tmp_path_factory.mktemp("dockerd"), tcp=True) as daemon:
        yield daemon


@pytest.fixture
def dockerd(docker_daemon: DockerDaemon) -> Iterator[DockerDaemon]:
    """The session's ``dockerd``, emptied of images before and after the test."""
    docker_daemon.remove_all_images()
    yield docker_daemon
    docker_daemon.remove_all_images()
