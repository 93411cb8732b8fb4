"""Credentials: a username and password for one registry, never shown in repr()."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password for one registry. The password never appears in repr()."""

    username: str
    password: str = field(repr=False)
