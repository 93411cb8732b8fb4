"""The redirect policy (dregsy.registry.follow): hops, schemes, methods, bodies, credentials.

Against real HTTP servers on loopback (aiohttp.web), through dregsy's aiohttp session: a
registry (`own`) and another host (`other`, a blob store a redirect points to).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from yarl import URL

from dregsy.registry.follow import MAX_REDIRECTS, Authenticator, RedirectError, send_following
from dregsy.registry.http import Body, Request, Response, Sender, headers_of
from dregsy.registry.session import Session


class Recorder:
    """An auth that marks what it was applied to."""

    async def send(self, request: Request, http: Sender) -> Response:
        request.headers["Authorization"] = "Bearer secret"
        return await http.send(request)


def _request(method: str, url: str, body: Body = None, **headers: str) -> Request:
    return Request(method, URL(url), headers_of(headers.items()), body)


@dataclass
class Seen:
    method: str
    path: str
    authorization: str | None
    body: bytes


@dataclass
class Host:
    """One server: `routes` maps a path to (status, Location); anything else is 200."""

    routes: dict[str, tuple[int, str]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    server: TestServer | None = None
    peer: Host | None = None  # where OTHER in a Location points

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        auth = request.headers.get("Authorization")
        self.seen.append(Seen(request.method, request.path, auth, body))
        status, location = self.routes.get(request.path, (200, ""))
        if self.peer is not None:
            location = location.replace("OTHER", self.peer.base)
        headers = {"Location": location} if location else {}
        return web.Response(status=status, headers=headers)


@asynccontextmanager
async def hosts() -> AsyncIterator[tuple[Host, Host, Session]]:
    other = Host()
    own = Host(peer=other)
    for host in (own, other):
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", host.handle)
        host.server = TestServer(app, host="127.0.0.1")
        await host.server.start_server()
    http = Session(
        tls=ssl.create_default_context, max_connections=4, connect_timeout=5, read_timeout=5
    )
    try:
        yield own, other, http
    finally:
        await http.aclose()
        for host in (own, other):
            assert host.server is not None
            await host.server.close()


def _own_only(own: Host) -> Callable[[URL], Authenticator | None]:
    def auth_for(url: URL) -> Authenticator | None:
        return Recorder() if f"http://{url.host_port_subcomponent}" == own.base else None

    return auth_for


async def test_credentials_stay_with_the_own_host_across_redirects() -> None:
    async with hosts() as (own, other, http):
        own.routes["/blob"] = (307, "OTHER/x")
        request = _request("GET", own.base + "/blob")
        response = await send_following(http, request, auth_for=_own_only(own))
        assert response.status_code == 200
        await response.aclose()
    assert [(s.path, s.authorization) for s in own.seen] == [("/blob", "Bearer secret")]
    assert [(s.path, s.authorization) for s in other.seen] == [("/x", None)]


async def test_a_redirect_loop_ends_after_the_limit() -> None:
    async with hosts() as (own, _, http):
        own.routes["/a"] = (302, "/a")
        with pytest.raises(RedirectError, match="more than 10 redirects"):
            await send_following(http, _request("GET", own.base + "/a"), auth_for=_own_only(own))
    assert len(own.seen) == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    "location", ["gopher://127.0.0.1/1", "ftp://127.0.0.1/x", "file:///etc/passwd"]
)
async def test_only_http_and_https_are_followed(location: str) -> None:
    async with hosts() as (own, _, http):
        own.routes["/a"] = (307, location)
        with pytest.raises(RedirectError, match="only http and https"):
            await send_following(http, _request("GET", own.base + "/a"), auth_for=_own_only(own))
    assert len(own.seen) == 1


async def test_303_turns_into_a_get_and_307_keeps_a_replayable_body() -> None:
    async with hosts() as (own, _, http):
        own.routes["/post"] = (303, "/got")
        own.routes["/put"] = (307, "/put2")
        for method, path, body in (("POST", "/post", b"abc"), ("PUT", "/put", b"xyz")):
            request = _request(method, own.base + path, body)
            response = await send_following(http, request, auth_for=_own_only(own))
            await response.aclose()
    assert [(s.method, s.path, s.body) for s in own.seen] == [
        ("POST", "/post", b"abc"),
        ("GET", "/got", b""),
        ("PUT", "/put", b"xyz"),
        ("PUT", "/put2", b"xyz"),
    ]


async def test_a_streamed_body_is_not_sent_twice() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"layer bytes"

    async with hosts() as (own, _, http):
        own.routes["/upload"] = (307, "/again")
        request = _request("PUT", own.base + "/upload", chunks(), **{"Content-Length": "11"})
        with pytest.raises(RedirectError, match="cannot be done"):
            await send_following(http, request, auth_for=_own_only(own))
    assert [s.path for s in own.seen] == ["/upload"]
