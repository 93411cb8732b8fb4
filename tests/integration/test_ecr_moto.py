"""ECR against moto's standalone server: tokens, refresh, and repository creation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from dregsy.auth.aws import AwsClients
from dregsy.auth.ecr import EcrSource
from dregsy.auth.sources import MIN_HOLD
from dregsy.credentials import Credentials
from dregsy.reference import parse_registry
from dregsy.registry.ecr_repos import EcrRepositories
from tests.support.moto_server import ECR_HOST, ECR_PASSWORD, ECR_USER, MotoServer

pytestmark = pytest.mark.integration

REGISTRY = parse_registry(ECR_HOST)


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with MotoServer(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def aws_env(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in moto.env().items():
        monkeypatch.setenv(name, value)


def count_calls(clients: AwsClients, operation: str) -> list[str]:
    """Record each call of `operation` (e.g. "CreateRepository") made through `clients`."""
    seen: list[str] = []

    def hook(**_: Any) -> None:
        seen.append(operation)

    clients.ecr("us-east-1").meta.events.register(f"before-call.ecr.{operation}", hook)
    return seen


def twelve_hour_tokens(clients: AwsClients, now: list[float]) -> None:
    """Make moto's tokens expire 12 hours after `now[0]`, as AWS's do (moto says 2015)."""

    def hook(parsed: dict[str, Any], **_: Any) -> None:
        for data in parsed.get("authorizationData", []):
            data["expiresAt"] = datetime.fromtimestamp(now[0] + 12 * 3600, UTC)

    clients.ecr("us-east-1").meta.events.register("after-call.ecr.GetAuthorizationToken", hook)


@pytest.mark.usefixtures("aws_env")
async def test_token_from_moto_refreshed_when_auth_refresh_passes() -> None:
    now = [2_000_000_000.0]
    clients = AwsClients()
    calls = count_calls(clients, "GetAuthorizationToken")
    twelve_hour_tokens(clients, now)
    source = EcrSource(REGISTRY, clients, refresh=600.0, clock=lambda: now[0])
    assert await source.get() == Credentials(ECR_USER, ECR_PASSWORD)
    now[0] += 599
    await source.get()
    assert len(calls) == 1
    now[0] += 2
    assert await source.get() == Credentials(ECR_USER, ECR_PASSWORD)
    assert len(calls) == 2


@pytest.mark.usefixtures("aws_env")
async def test_token_stated_as_expired_is_held_a_minute() -> None:
    now = [2_000_000_000.0]
    clients = AwsClients()
    calls = count_calls(clients, "GetAuthorizationToken")
    source = EcrSource(REGISTRY, clients, refresh=3600.0, clock=lambda: now[0])
    await source.get()
    now[0] += MIN_HOLD - 1
    await source.get()
    assert len(calls) == 1
    now[0] += 2
    await source.get()
    assert len(calls) == 2


@pytest.mark.usefixtures("aws_env")
async def test_repositories_created_once(tmp_path: Path) -> None:
    clients = AwsClients()
    creates = count_calls(clients, "CreateRepository")
    describes = count_calls(clients, "DescribeRepositories")
    repositories = EcrRepositories(clients)
    paths = ["moto-test/a", "moto-test/b"]
    assert await repositories.ensure(REGISTRY, paths) == {}
    assert len(creates) == 2
    assert await repositories.ensure(REGISTRY, paths) == {}
    assert len(creates) == 2  # they exist now: described, not created
    assert len(describes) == 4
    listed = clients.ecr("us-east-1").describe_repositories(repositoryNames=paths)
    assert sorted(r["repositoryName"] for r in listed["repositories"]) == paths
