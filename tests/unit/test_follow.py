"""The redirect policy (dregsy.registry.follow): hops, schemes, methods, bodies, credentials."""

from __future__ import annotations

from collections.abc import Generator

import httpx
import pytest

from dregsy.registry.follow import MAX_REDIRECTS, RedirectError, send_following


class Recorder(httpx.Auth):
    """An auth that marks what it was applied to."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = "Bearer secret"
        yield request


def _client(routes: dict[str, httpx.Response], seen: list[httpx.Request]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return routes.get(str(request.url.copy_with(query=None)), httpx.Response(200))

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def _own(url: httpx.URL) -> httpx.Auth | None:
    return Recorder() if url.host == "reg.test" else None


async def test_credentials_stay_with_the_own_host_across_redirects() -> None:
    seen: list[httpx.Request] = []
    routes = {
        "https://reg.test/blob": httpx.Response(307, headers={"Location": "https://cdn.test/x"})
    }
    async with _client(routes, seen) as http:
        response = await send_following(
            http, http.build_request("GET", "https://reg.test/blob"), auth_for=_own
        )
        assert response.status_code == 200
    assert [str(r.url) for r in seen] == ["https://reg.test/blob", "https://cdn.test/x"]
    assert seen[0].headers.get("authorization") == "Bearer secret"
    assert "authorization" not in seen[1].headers


async def test_a_redirect_loop_ends_after_the_limit() -> None:
    seen: list[httpx.Request] = []
    routes = {"https://reg.test/a": httpx.Response(302, headers={"Location": "/a"})}
    async with _client(routes, seen) as http:
        with pytest.raises(RedirectError, match="more than 10 redirects"):
            await send_following(
                http, http.build_request("GET", "https://reg.test/a"), auth_for=_own
            )
    assert len(seen) == MAX_REDIRECTS + 1


@pytest.mark.parametrize(
    "location", ["gopher://reg.test/1", "ftp://reg.test/x", "file:///etc/passwd"]
)
async def test_only_http_and_https_are_followed(location: str) -> None:
    seen: list[httpx.Request] = []
    routes = {"https://reg.test/a": httpx.Response(307, headers={"Location": location})}
    async with _client(routes, seen) as http:
        with pytest.raises(RedirectError, match="only http and https"):
            await send_following(
                http, http.build_request("GET", "https://reg.test/a"), auth_for=_own
            )
    assert len(seen) == 1


async def test_303_turns_into_a_get_and_307_keeps_a_replayable_body() -> None:
    seen: list[httpx.Request] = []
    routes = {
        "https://reg.test/post": httpx.Response(303, headers={"Location": "/got"}),
        "https://reg.test/put": httpx.Response(307, headers={"Location": "/put2"}),
    }
    async with _client(routes, seen) as http:
        await send_following(
            http, http.build_request("POST", "https://reg.test/post", content=b"abc"), auth_for=_own
        )
        await send_following(
            http, http.build_request("PUT", "https://reg.test/put", content=b"xyz"), auth_for=_own
        )
    assert [(r.method, r.url.path, r.content) for r in seen] == [
        ("POST", "/post", b"abc"),
        ("GET", "/got", b""),
        ("PUT", "/put", b"xyz"),
        ("PUT", "/put2", b"xyz"),
    ]


# A streamed body redirected by 307 is refused: httpx's MockTransport reads every request
# body (making it replayable), so tests/e2e/test_hostile.py checks that one (upload-307).
