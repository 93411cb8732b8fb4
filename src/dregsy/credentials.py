"""Credentials: a username and password for one registry, never shown in repr()."""

from __future__ import annotations

from typing import Any

from msgspec import Struct


class Credentials(Struct, frozen=True):
    """A username and password for one registry. The password never appears in repr()."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r})"

    def __rich_repr__(self) -> list[tuple[str, Any]]:  # rich's pretty printer and tracebacks
        return [("username", self.username)]
