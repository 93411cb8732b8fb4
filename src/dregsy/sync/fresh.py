"""Target repositories that are new in this run: their blobs need no existence checks.

When a tag is missing at the target, the run asks once per target repository whether it
has any tag at all (`/tags/list?n=1`). A repository without one has no blobs to find
either, so the copy uploads (or mounts) each blob without a HEAD first: a first mirror of
many repositories saves a request per blob. Unchanged tags never ask, so a no-op run costs
nothing more. Being wrong is harmless: a blob that was there after all is uploaded again.
"""

from __future__ import annotations

import asyncio

from dregsy.reference import Repository
from dregsy.registry.client import RegistryClient
from dregsy.registry.tags import has_tags


class NewRepositories:
    """One run's answers, asked once per repository however many images wait for them."""

    def __init__(self) -> None:
        self._answers: dict[str, asyncio.Future[bool | None]] = {}

    async def is_new(self, client: RegistryClient, repo: Repository) -> bool:
        """True when the target repository had no tag when this run first asked."""
        key = f"{client.registry}/{repo.path}"
        answer = self._answers.get(key)
        if answer is None:
            answer = self._answers[key] = asyncio.ensure_future(has_tags(client, repo))
        # shield: a cancelled image must not cancel the answer others wait for
        return await asyncio.shield(answer) is False
