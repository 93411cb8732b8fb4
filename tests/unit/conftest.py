"""Unit-test fixtures: the loopback servers of fake registries are closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.fake_registry import FakeNetwork


@pytest.fixture(autouse=True)
async def _close_fake_networks() -> AsyncIterator[None]:
    yield
    await FakeNetwork.close_all()
