"""The skopeo relay: `skopeo copy` per image, as dregsy 0.5 does (credentials kept private).

Not built yet: choosing it fails at start (see `AVAILABLE`).
"""

from __future__ import annotations

from dregsy.config.types import SkopeoSettings
from dregsy.errors import RelayUnavailableError
from dregsy.relays.base import CopyOutcome, ImageJob, Relay

AVAILABLE = False


class SkopeoRelay(Relay):
    name = "skopeo"
    preserves_digests = True
    default_platform = "all"

    def __init__(self, settings: SkopeoSettings) -> None:
        self._settings = settings

    async def prepare(self) -> None:
        raise RelayUnavailableError("the skopeo relay is not available yet")

    def new_run(self) -> object:
        return None

    async def copy(self, job: ImageJob, run: object) -> CopyOutcome:
        raise RelayUnavailableError("the skopeo relay is not available yet")

    async def aclose(self) -> None:
        return None
