"""Google registries: which hosts, and access tokens renewed before they expire."""

from __future__ import annotations

import pytest

from dregsy.auth.google import EXPIRY_MARGIN, GOOGLE_USER, GoogleSource, is_google_registry
from dregsy.credentials import Credentials
from dregsy.errors import CredentialError
from dregsy.reference import parse_registry


@pytest.mark.parametrize(
    ("host", "google"),
    [
        ("gcr.io", True),
        ("eu.gcr.io", True),
        ("europe-west3-docker.pkg.dev", True),
        ("notgcr.io", False),
        ("pkg.dev", False),
        ("docker.io", False),
    ],
)
def test_google_hosts(host: str, google: bool) -> None:
    assert is_google_registry(parse_registry(host)) is google


async def test_token_renewed_before_expiry() -> None:
    now = [1_000.0]
    issued: list[str] = []

    def fetch() -> tuple[str, float]:
        issued.append(f"token-{len(issued) + 1}")
        return issued[-1], now[0] + 3600

    source = GoogleSource(fetch, clock=lambda: now[0])
    assert await source.get() == Credentials(GOOGLE_USER, "token-1")
    now[0] += 3600 - EXPIRY_MARGIN - 1
    assert await source.get() == Credentials(GOOGLE_USER, "token-1")
    now[0] += 2
    assert await source.get() == Credentials(GOOGLE_USER, "token-2")
    assert source.fetches == 2


async def test_errors_pass_through() -> None:
    def fetch() -> tuple[str, float]:
        raise CredentialError("no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS")

    with pytest.raises(CredentialError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        await GoogleSource(fetch).get()


async def test_no_default_credentials_means_anonymous() -> None:
    now = [1000.0]
    calls = []

    def fetch() -> tuple[str, float] | None:
        calls.append(now[0])
        return None

    source = GoogleSource(fetch, clock=lambda: now[0])
    assert await source.get() is None
    assert await source.get() is None
    assert len(calls) == 1  # not asked again on every request
