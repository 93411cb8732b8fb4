"""Retries (dregsy.registry.retry) against a real HTTP server on loopback."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict
from yarl import URL

from dregsy.registry.backoff import RegistryPauses
from dregsy.registry.http import Body, Request, Response, Sender
from dregsy.registry.retry import RetryPolicy, RetrySender, retry_after
from dregsy.registry.session import Session

DROP = -1  # an answer that closes the connection without a response


class Script:
    """A real HTTP server on loopback answering with a scripted list of statuses (DROP
    closes the connection instead); `calls` counts the requests that reached it."""

    def __init__(self, *answers: int, headers: dict[str, str] | None = None) -> None:
        self.answers = list(answers)
        self.headers = headers or {}
        self.calls = 0
        self.server: TestServer | None = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        await request.read()
        answer = self.answers.pop(0)
        if answer == DROP:
            assert request.transport is not None
            request.transport.close()
        return web.Response(status=max(answer, 200), headers=self.headers)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    async def __aenter__(self) -> Script:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        await self.server.close()


class Client:
    """GET and PUT through a sender; the body is read, the session closed at the end."""

    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    async def _send(self, method: str, url: str, body: Body = None) -> Response:
        response = await self._sender.send(Request(method, URL(url), body=body))
        await response.aread()
        return response

    async def get(self, url: str) -> Response:
        return await self._send("GET", url)

    async def put(self, url: str, *, content: Body) -> Response:
        return await self._send("PUT", url, content)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._sender.aclose()


def _wire() -> Session:
    return Session(
        tls=lambda: ssl.create_default_context(),
        max_connections=4,
        connect_timeout=5,
        read_timeout=10,
    )


def _client(script: Script, sleeps: list[float]) -> Client:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    policy = RetryPolicy(attempts=4, base=0.5, factor=2, jitter=0)
    return Client(RetrySender(_wire(), policy, sleep=sleep))


async def test_retries_5xx_with_backoff() -> None:
    sleeps: list[float] = []
    script = Script(503, 502, 200)
    async with script, _client(script, sleeps) as client:
        response = await client.get(script.url + "/v2/")
    assert response.status_code == 200
    assert script.calls == 3
    assert sleeps == [0.5, 1.0]


async def test_gives_up_after_attempts() -> None:
    sleeps: list[float] = []
    script = Script(500, 500, 500, 500)
    async with script, _client(script, sleeps) as client:
        response = await client.get(script.url + "/v2/")
    assert response.status_code == 500
    assert script.calls == 4


async def test_honours_retry_after_on_429() -> None:
    sleeps: list[float] = []
    script = Script(429, 200, headers={"Retry-After": "3"})
    async with script, _client(script, sleeps) as client:
        response = await client.get(script.url + "/v2/")
    assert response.status_code == 200
    assert sleeps == [3.0]


@pytest.mark.parametrize("status", [401, 403, 404, 400])
async def test_does_not_retry_client_errors(status: int) -> None:
    sleeps: list[float] = []
    script = Script(status, 200)
    async with script, _client(script, sleeps) as client:
        response = await client.get(script.url + "/v2/")
    assert response.status_code == status
    assert script.calls == 1


async def test_retries_a_connection_closed_without_a_response() -> None:
    sleeps: list[float] = []
    script = Script(DROP, 200)
    async with script, _client(script, sleeps) as client:
        response = await client.get(script.url + "/v2/")
    assert response.status_code == 200
    assert script.calls == 2


async def test_streamed_bodies_are_not_replayed() -> None:
    sleeps: list[float] = []
    script = Script(503, 201)

    async def body() -> AsyncIterator[bytes]:
        yield b"data"

    async with script, _client(script, sleeps) as client:
        response = await client.put(script.url + "/upload", content=body())
    assert response.status_code == 503
    assert script.calls == 1


def _answer(headers: dict[str, str]) -> Response:
    return Response(429, CIMultiDict(headers), Request("GET", URL("https://r.test/")))


def test_retry_after_formats() -> None:
    assert retry_after(_answer({"Retry-After": "7"}), 0) == 7
    assert retry_after(_answer({"Retry-After": "Thu, 01 Jan 1970 00:01:40 GMT"}), 40.0) == 60.0
    assert retry_after(_answer({}), 0) is None


def test_retry_after_date_is_read_against_the_servers_date() -> None:
    headers = {
        "Retry-After": "Wed, 21 Oct 2015 07:28:30 GMT",
        "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
    }
    # The local clock is far off (0): the server's own Date counts.
    assert retry_after(_answer(headers), 0) == 30.0
    naive = _answer({"Retry-After": "Thu, 01 Jan 1970 00:01:40 -0000"})
    assert retry_after(naive, 40.0) == 60.0
    assert retry_after(_answer({"Retry-After": "soon"}), 0) is None


async def test_a_429_pauses_every_client_of_the_registry() -> None:
    now = [100.0]
    sleeps: list[tuple[str, float]] = []
    pauses = RegistryPauses()
    statuses = {"a": [429, 200], "b": [200]}
    sent: list[tuple[str, float]] = []

    async def network(request: web.Request) -> web.Response:
        name = request.path.strip("/")
        sent.append((name, now[0]))
        return web.Response(status=statuses[name].pop(0), headers={"Retry-After": "30"})

    def client(name: str) -> Client:
        async def sleep(seconds: float) -> None:
            sleeps.append((name, seconds))
            now[0] += seconds

        sender = RetrySender(
            _wire(),
            RetryPolicy(jitter=0, max_retry_after=20),
            sleep=sleep,
            pause=pauses.for_registry("r.test"),
            clock=lambda: now[0],
        )
        return Client(sender)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", network)
    async with TestServer(app, host="127.0.0.1") as server, client("a") as first:
        base = f"http://127.0.0.1:{server.port}"
        assert (await first.get(base + "/a")).status_code == 200
        # Capped at max_retry_after; the other client waits out the rest of the pause.
        assert sleeps == [("a", 20.0)]
        now[0] = 110.0  # as if the other client asked 10 s into the pause
        async with client("b") as second:
            assert (await second.get(base + "/b")).status_code == 200
    assert sleeps == [("a", 20.0), ("b", 10.0)]
    assert sent == [("a", 100.0), ("a", 120.0), ("b", 120.0)]


async def test_a_429_to_a_request_sent_once_still_pauses_the_registry() -> None:
    pauses = RegistryPauses()
    pause = pauses.for_registry("r.test")
    script = Script(429, headers={"Retry-After": "Thu, 01 Jan 1970 00:00:07 GMT"})
    script.headers["Date"] = "Thu, 01 Jan 1970 00:00:02 GMT"

    async def body() -> AsyncIterator[bytes]:
        yield b"data"

    sender = RetrySender(_wire(), pause=pause, clock=lambda: 50.0)
    async with script, Client(sender) as client:
        response = await client.put(script.url + "/upload", content=body())
    assert response.status_code == 429
    assert script.calls == 1
    assert pause.until == 55.0  # the HTTP date, 5 s after the answer's own Date
