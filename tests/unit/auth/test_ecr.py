"""ECR credentials and repositories against botocore's Stubber (no network): refresh timing,
public ECR, and AWS errors in words."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber

from dregsy.auth.aws import AwsClients, describe_aws_error, ecr_account, ecr_api_region
from dregsy.auth.ecr import EXPIRY_MARGIN, EcrSource
from dregsy.credentials import Credentials
from dregsy.errors import CredentialError
from dregsy.reference import parse_registry
from dregsy.registry.ecr_repos import EcrRepositories, ecr_repository_name
from tests.support.moto_server import no_aws_environment

PRIVATE = parse_registry("123456789012.dkr.ecr.eu-west-1.amazonaws.com")
PUBLIC = parse_registry("123456789012@public.ecr.aws")
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in no_aws_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never reached: stubbed


@pytest.fixture
def clients() -> AwsClients:
    return AwsClients()


@pytest.fixture
def ecr_stub(clients: AwsClients) -> Iterator[Stubber]:
    with Stubber(clients.ecr("eu-west-1")) as stub:
        yield stub
        stub.assert_no_pending_responses()


@pytest.fixture
def public_stub(clients: AwsClients) -> Iterator[Stubber]:
    with Stubber(clients.ecr_public("us-east-1")) as stub:
        yield stub
        stub.assert_no_pending_responses()


def token(password: str, expires: float) -> dict[str, object]:
    encoded = base64.b64encode(f"AWS:{password}".encode()).decode()
    return {"authorizationToken": encoded, "expiresAt": datetime.fromtimestamp(expires, UTC)}


def test_regions_and_accounts() -> None:
    assert ecr_api_region(PRIVATE) == "eu-west-1"
    assert ecr_account(PRIVATE) == "123456789012"
    assert ecr_api_region(PUBLIC) == "us-east-1"
    assert ecr_api_region(parse_registry("123:us-west-2@public.ecr.aws")) == "us-west-2"
    assert ecr_account(parse_registry("123:us-west-2@public.ecr.aws")) == "123"
    assert ecr_repository_name(PUBLIC, "myalias/app") == "app"
    assert ecr_repository_name(PRIVATE, "team/app") == "team/app"


async def test_refresh_after_auth_refresh(clients: AwsClients, ecr_stub: Stubber) -> None:
    clock = Clock()
    twelve_hours = T0 + 12 * 3600
    ecr_stub.add_response(
        "get_authorization_token", {"authorizationData": [token("one", twelve_hours)]}
    )
    ecr_stub.add_response(
        "get_authorization_token", {"authorizationData": [token("two", twelve_hours)]}
    )
    source = EcrSource(PRIVATE, clients, refresh=3600.0, clock=clock)
    assert await source.get() == Credentials("AWS", "one")
    clock.now = T0 + 3599
    assert await source.get() == Credentials("AWS", "one")
    clock.now = T0 + 3601
    assert await source.get() == Credentials("AWS", "two")
    assert source.fetches == 2


async def test_refresh_before_expiry_without_auth_refresh(
    clients: AwsClients, ecr_stub: Stubber
) -> None:
    clock = Clock()
    expires = T0 + 12 * 3600
    ecr_stub.add_response("get_authorization_token", {"authorizationData": [token("one", expires)]})
    ecr_stub.add_response(
        "get_authorization_token", {"authorizationData": [token("two", expires + 43200)]}
    )
    # a refresh interval longer than the token's life does not keep an expired token
    source = EcrSource(PRIVATE, clients, refresh=48 * 3600.0, clock=clock)
    assert await source.get() == Credentials("AWS", "one")
    clock.now = expires - EXPIRY_MARGIN - 1
    assert await source.get() == Credentials("AWS", "one")
    clock.now = expires - EXPIRY_MARGIN + 1
    assert await source.get() == Credentials("AWS", "two")


async def test_public_ecr(clients: AwsClients, public_stub: Stubber) -> None:
    public_stub.add_response(
        "get_authorization_token", {"authorizationData": token("pub", T0 + 43200)}
    )
    source = EcrSource(PUBLIC, clients, clock=Clock())
    assert await source.get() == Credentials("AWS", "pub")
    assert "ecr-public:GetAuthorizationToken" in source.label


async def test_access_denied_names_the_action(clients: AwsClients, ecr_stub: Stubber) -> None:
    ecr_stub.add_client_error(
        "get_authorization_token",
        service_error_code="AccessDeniedException",
        service_message="User: arn:aws:iam::123456789012:user/ci is not authorized",
        http_status_code=400,
    )
    with pytest.raises(CredentialError) as info:
        await EcrSource(PRIVATE, clients, clock=Clock()).get()
    message = str(info.value)
    assert "ecr:GetAuthorizationToken" in message
    assert "IAM policy must allow" in message
    assert info.value.__cause__ is None


async def test_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    with pytest.raises(CredentialError, match=r"no AWS credentials found.*AWS_ACCESS_KEY_ID"):
        await EcrSource(PRIVATE, AwsClients(), clock=Clock()).get()


def test_unknown_region_and_other_errors_in_words() -> None:
    unreachable = EndpointConnectionError(
        endpoint_url="https://api.ecr.xx-nowhere-1.amazonaws.com/"
    )
    message = describe_aws_error(unreachable, "ecr:GetAuthorizationToken", "xx-nowhere-1")
    assert "cannot reach the AWS API of region 'xx-nowhere-1' (unknown region?)" in message
    assert "no AWS credentials" in describe_aws_error(NoCredentialsError(), "a", "r")


async def test_repositories_created_when_missing(
    clients: AwsClients, ecr_stub: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dregsy.registry.ecr_repos.PARALLEL_CALLS", 1)  # stubs are in order
    ecr_stub.add_client_error(
        "describe_repositories",
        service_error_code="RepositoryNotFoundException",
        expected_params={"registryId": "123456789012", "repositoryNames": ["team/new"]},
    )
    ecr_stub.add_response(
        "create_repository",
        {"repository": {"repositoryName": "team/new"}},
        {"registryId": "123456789012", "repositoryName": "team/new"},
    )
    ecr_stub.add_response(
        "describe_repositories",
        {"repositories": [{"repositoryName": "team/old"}]},
        {"registryId": "123456789012", "repositoryNames": ["team/old"]},
    )
    failures = await EcrRepositories(clients).ensure(PRIVATE, ["team/old", "team/new", "team/old"])
    assert failures == {}


async def test_public_repository_without_alias_segment(
    clients: AwsClients, public_stub: Stubber
) -> None:
    public_stub.add_client_error(
        "describe_repositories",
        service_error_code="RepositoryNotFoundException",
        expected_params={"registryId": "123456789012", "repositoryNames": ["app"]},
    )
    public_stub.add_response(
        "create_repository", {"repository": {"repositoryName": "app"}}, {"repositoryName": "app"}
    )
    assert await EcrRepositories(clients).ensure(PUBLIC, ["myalias/app"]) == {}


async def test_repository_creation_denied(clients: AwsClients, ecr_stub: Stubber) -> None:
    ecr_stub.add_client_error(
        "describe_repositories", service_error_code="RepositoryNotFoundException"
    )
    ecr_stub.add_client_error(
        "create_repository", service_error_code="AccessDeniedException", service_message="no"
    )
    failures = await EcrRepositories(clients).ensure(PRIVATE, ["team/new"])
    assert list(failures) == ["team/new"]
    assert "ecr:CreateRepository" in failures["team/new"]
