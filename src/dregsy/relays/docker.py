"""The Docker relay: pull, tag and push through a Docker daemon (dregsy's original way).

Not built yet: choosing it fails at start (see `AVAILABLE`).
"""

from __future__ import annotations

from dregsy.config.types import DockerSettings
from dregsy.errors import RelayUnavailableError
from dregsy.registry.directory import RegistryDirectory
from dregsy.relays.base import CopyOutcome, ImageJob, Relay

AVAILABLE = False


class DockerRelay(Relay):
    name = "docker"
    preserves_digests = False
    default_platform = "linux/amd64"

    def __init__(self, settings: DockerSettings, registries: RegistryDirectory) -> None:
        self._settings = settings
        self._registries = registries

    async def prepare(self) -> None:
        raise RelayUnavailableError("the docker relay is not available yet")

    def new_run(self) -> object:
        return None

    async def copy(self, job: ImageJob, run: object) -> CopyOutcome:
        raise RelayUnavailableError("the docker relay is not available yet")

    async def aclose(self) -> None:
        return None
