"""The test users shared by htpasswd registries and the token server."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

ALICE = ("alice", "secret1")
BOB = ("bob", "secret2")
TEST_USERS: Mapping[str, str] = MappingProxyType({ALICE[0]: ALICE[1], BOB[0]: BOB[1]})
"""User name to password: ``alice``/``secret1`` and ``bob``/``secret2``."""
