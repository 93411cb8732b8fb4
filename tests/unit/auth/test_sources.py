"""Credential sources in the auth flow: renewal, refusal, identity changes, selection."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from yarl import URL

from dregsy.auth.dockerconfig import DockerConfigSource
from dregsy.auth.ecr import EcrSource
from dregsy.auth.flow import RegistryAuth
from dregsy.auth.google import GoogleSource
from dregsy.auth.select import CredentialSources
from dregsy.auth.sources import MIN_HOLD, REFETCH_AFTER, Renewing, StaticSource
from dregsy.config.types import Location
from dregsy.credentials import Credentials
from dregsy.errors import CredentialError
from dregsy.reference import parse_registry
from dregsy.registry.http import Request, Response, Sender
from tests.support.fake_registry import FakeNetwork

A = Credentials("alice", "pw-a")
B = Credentials("alice", "pw-b")


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Rotating:
    """A source handing out A, then B after the first refusal."""

    label = "rotating test source"

    def __init__(self) -> None:
        self.items = [A, B]
        self.gets = 0

    async def get(self) -> Credentials | None:
        self.gets += 1
        return self.items[0]

    def invalidate(self) -> None:
        if len(self.items) > 1:
            self.items.pop(0)


async def test_renewing_holds_until_deadline_then_fetches() -> None:
    clock = Clock()
    calls: list[float] = []

    async def fetch() -> tuple[Credentials | None, float]:
        calls.append(clock.now)
        return (A if len(calls) == 1 else B), clock.now + 3600

    renewing = Renewing(fetch, clock)
    assert await renewing.get() == A
    clock.now += 3599
    assert await renewing.get() == A
    clock.now += 2
    assert await renewing.get() == B
    assert renewing.fetches == 2


async def test_renewing_keeps_credentials_that_claim_to_be_expired_for_a_while() -> None:
    clock = Clock()
    fetched = 0

    async def fetch() -> tuple[Credentials | None, float]:
        nonlocal fetched
        fetched += 1
        return A, 0.0  # "expired in 1970": a skewed clock or moto's fixed expiry

    renewing = Renewing(fetch, clock)
    await renewing.get()
    clock.now += MIN_HOLD - 1
    await renewing.get()
    assert fetched == 1
    clock.now += 2
    await renewing.get()
    assert fetched == 2


async def test_renewing_invalidate_is_rate_limited_and_failures_answer_briefly() -> None:
    clock = Clock()
    outcomes: list[Credentials | CredentialError] = [A, CredentialError("AWS says no"), B]

    async def fetch() -> tuple[Credentials | None, float]:
        outcome = outcomes.pop(0)
        if isinstance(outcome, CredentialError):
            raise outcome
        return outcome, clock.now + 3600

    renewing = Renewing(fetch, clock)
    assert await renewing.get() == A
    renewing.invalidate()
    assert await renewing.get() == A  # fetched just now: a refusal does not refetch at once
    clock.now += REFETCH_AFTER + 1
    renewing.invalidate()
    with pytest.raises(CredentialError, match="AWS says no"):
        await renewing.get()
    with pytest.raises(CredentialError, match="AWS says no"):
        await renewing.get()  # the failure answers without a new fetch
    assert outcomes == [B]
    clock.now += REFETCH_AFTER + 1
    assert await renewing.get() == B


def _basic(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode()


async def _get(
    http: Sender, url: str, auth: RegistryAuth | None = None, scopes: tuple[str, ...] = ()
) -> Response:
    request = Request("GET", URL(url), scopes=scopes)
    response = await (http.send(request) if auth is None else auth.send(request, http))
    await response.aread()
    return response


async def test_basic_refusal_asks_the_source_again_and_retries_once() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        if request.headers.get("authorization") == _basic(B):
            return httpx.Response(200)
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})

    source = Rotating()
    auth = RegistryAuth(source)
    network = FakeNetwork()
    network.hosts["r.test"] = handler
    http = network.session()
    auth.learn(await _get(http, "http://r.test/v2/"))
    response = await _get(http, "http://r.test/v2/x", auth)
    assert response.status_code == 200
    assert seen[1:] == [_basic(A), _basic(B)]


async def test_bearer_tokens_are_dropped_when_the_identity_changes() -> None:
    token_requests: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            token_requests.append(request.headers["authorization"])
            return httpx.Response(200, json={"token": f"t{len(token_requests)}"})
        if request.headers.get("authorization", "").startswith("Bearer "):
            return httpx.Response(200)
        challenge = 'Bearer realm="http://r.test/token",service="r.test"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    source = Rotating()
    auth = RegistryAuth(source)
    scope = ("repository:a:pull",)
    network = FakeNetwork()
    network.hosts["r.test"] = handler
    http = network.session()
    auth.learn(await _get(http, "http://r.test/v2/"))
    await _get(http, "http://r.test/v2/a/tags/list", auth, scope)
    await _get(http, "http://r.test/v2/a/tags/list", auth, scope)
    assert token_requests == [_basic(A)]  # the token is reused
    source.invalidate()  # e.g. ECR credentials renewed
    await _get(http, "http://r.test/v2/a/tags/list", auth, scope)
    assert token_requests == [_basic(A), _basic(B)]


def _location(registry: str, **kw: object) -> Location:
    return Location(registry=parse_registry(registry), **kw)  # type: ignore[arg-type]


ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        (_location("r.test", anonymous=True), StaticSource),
        (_location(ECR, anonymous=True), StaticSource),
        (_location("r.test", credentials=A), StaticSource),
        (_location(ECR, credentials=A, auth_refresh=3600.0), EcrSource),
        (_location(ECR, credentials=A), StaticSource),
        (_location(ECR), EcrSource),
        (_location("12345@public.ecr.aws"), EcrSource),
        (_location("public.ecr.aws"), DockerConfigSource),  # public: no AWS needed
        (_location("gcr.io"), GoogleSource),
        (_location("eu.gcr.io"), GoogleSource),
        (_location("europe-west1-docker.pkg.dev"), GoogleSource),
        (_location("r.test"), DockerConfigSource),
        (_location("docker.io"), DockerConfigSource),
    ],
    ids=lambda v: v.registry.host if isinstance(v, Location) else "",
)
def test_selection(location: Location, kind: type, tmp_path: Path) -> None:
    sources = CredentialSources(docker_config=tmp_path / "config.json")
    source = sources.for_location(location)
    assert isinstance(source, kind)
    assert sources.for_location(location) is source  # kept per location


async def test_without_docker_config_nothing_is_looked_up() -> None:
    source = CredentialSources().for_location(_location("r.test"))
    assert await source.get() is None
    assert source.label == "anonymous access"


def test_google_locations_share_one_source() -> None:
    sources = CredentialSources(google=lambda: ("tok", 0.0))
    assert sources.for_location(_location("gcr.io")) is sources.for_location(
        _location("us-docker.pkg.dev")
    )
