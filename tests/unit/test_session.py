"""The aiohttp session (dregsy.registry.session) against a scripted server on loopback:
reuse, limits, failures."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from yarl import URL

from dregsy.registry.http import (
    Body,
    ConnectError,
    LocalProtocolError,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    Response,
    UnsupportedProtocol,
    headers_of,
)
from dregsy.registry.session import Session

Reply = Callable[[bytes, bytes, asyncio.StreamWriter], Awaitable[bool]]  # -> keep open


class ScriptedServer:
    """Answers each request with `reply(head, body, writer)`; counts connections."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.open_now = 0
        self.most_open = 0
        self.heads: list[bytes] = []
        self.server: asyncio.Server | None = None
        self._changed = asyncio.Condition()

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                self.heads.append(head)
                body = b""
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        body = await reader.readexactly(int(line.split(b":")[1]))
                if not await self.reply(head, body, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self.open_now -= 1
            writer.close()
            async with self._changed:
                self._changed.notify_all()

    async def until_all_closed(self) -> None:
        """Wait until the server has closed every connection it accepted."""
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(lambda: self.open_now == 0)


@contextlib.asynccontextmanager
async def serving(reply: Reply) -> AsyncIterator[ScriptedServer]:
    server = ScriptedServer(reply)
    server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    try:
        yield server
    finally:
        server.server.close()


def response(status: int = 200, body: bytes = b"", headers: str = "") -> bytes:
    return f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n{headers}\r\n".encode() + body


async def ok(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
    writer.write(response(200, b"" if head.startswith(b"HEAD") else b"hello"))
    await writer.drain()
    return True


@dataclass(frozen=True)
class Answer:
    status_code: int
    content: bytes


class Client:
    """A session with the shorthands these tests use; closed at the end of `async with`."""

    def __init__(self, session: Session) -> None:
        self.session = session

    async def request(
        self, method: str, url: str, *, content: Body = None, headers: dict[str, str] | None = None
    ) -> Answer:
        request = Request(method, URL(url), headers_of((headers or {}).items()), content)
        response = await self.session.send(request)
        return Answer(response.status_code, await response.aread())

    async def get(self, url: str, *, headers: dict[str, str] | None = None) -> Answer:
        return await self.request("GET", url, headers=headers)

    async def head(self, url: str) -> Answer:
        return await self.request("HEAD", url)

    async def put(
        self, url: str, *, content: Body, headers: dict[str, str] | None = None
    ) -> Answer:
        return await self.request("PUT", url, content=content, headers=headers)

    @contextlib.asynccontextmanager
    async def stream(self, method: str, url: str) -> AsyncIterator[Response]:
        response = await self.session.send(Request(method, URL(url)))
        try:
            yield response
        finally:
            await response.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.aclose()


def session(max_connections: int = 4, *, read: float = 5.0, connect: float = 5.0) -> Session:
    return Session(
        tls=ssl.create_default_context,
        max_connections=max_connections,
        connect_timeout=connect,
        read_timeout=read,
    )


def client(max_connections: int = 4, **timeouts: float) -> Client:
    return Client(session(max_connections, **timeouts))


async def test_connections_are_reused_after_bodies_and_heads() -> None:
    async with serving(ok) as server, client() as http:
        for method in ("GET", "HEAD", "GET", "HEAD"):
            response_ = await http.request(method, server.url + "/v2/")
            assert response_.status_code == 200
            assert response_.content == (b"hello" if method == "GET" else b"")
        assert server.connections == 1


async def test_chunked_bodies_and_informational_responses() -> None:
    async def reply(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        writer.write(b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n")
        await writer.drain()
        return True

    async with serving(reply) as server, client() as http:
        assert (await http.get(server.url)).content == b"abcdefg"
        assert (await http.get(server.url)).content == b"abcdefg"
        assert server.connections == 1


async def test_request_bodies_stream_with_their_length() -> None:
    received: list[bytes] = []

    async def reply(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        received.append(body)
        writer.write(response(201))
        await writer.drain()
        return True

    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"one ", b"", b"two"):
            yield part

    async with serving(reply) as server, client() as http:
        put = await http.put(server.url, content=chunks(), headers={"Content-Length": "7"})
        assert put.status_code == 201
        assert received == [b"one two"]


async def test_an_unread_body_closes_its_connection_and_frees_the_slot() -> None:
    async def big(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        # more than is buffered with the head: not received whole when the stream closes
        writer.write(response(200, b"hello" if b"/small" in head else b"x" * (4 << 20)))
        await writer.drain()
        return True

    async with serving(big) as server, client(max_connections=1) as http:
        for _ in range(3):
            async with http.stream("GET", server.url) as streamed:
                assert streamed.status_code == 200  # body never read
        assert (await http.get(server.url + "/small")).content == b"hello"
        assert server.connections == 4


async def test_a_connection_the_server_closed_while_idle_is_not_used_again() -> None:
    async def once(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(200, b"x"))
        await writer.drain()
        return False  # close after one response, without saying so

    async with serving(once) as server, client() as http:
        assert (await http.get(server.url)).content == b"x"
        await server.until_all_closed()  # the close arrives while the connection is idle
        assert (await http.get(server.url)).content == b"x"
        assert server.connections == 2


async def test_connection_close_is_honoured() -> None:
    async def closing(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(200, b"x", "Connection: close\r\n"))
        await writer.drain()
        return True  # the server would go on; the client must not

    async with serving(closing) as server, client() as http:
        await http.get(server.url)
        await http.get(server.url)
        assert server.connections == 2


async def test_a_truncated_body_is_an_error() -> None:
    async def short(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        await writer.drain()
        return False

    async with serving(short) as server, client() as http:
        with pytest.raises(RemoteProtocolError, match="before the end of the body"):
            await http.get(server.url)


async def test_no_response_at_all_is_an_error() -> None:
    async def hang_up(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        return False

    async with serving(hang_up) as server, client() as http:
        with pytest.raises(RemoteProtocolError, match="without a response"):
            await http.get(server.url)


async def test_a_silent_server_times_out_and_a_closed_port_refuses() -> None:
    async def silent(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(10)
        return False

    async with serving(silent) as server, client(read=0.2) as http:
        with pytest.raises(ReadTimeout):
            await http.get(server.url)
        url = server.url
    async with client() as http:
        with pytest.raises(ConnectError):
            await http.get(url)


async def test_at_most_max_connections_are_open() -> None:
    async def slow(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(0.02)
        writer.write(response(200, b"ok"))
        await writer.drain()
        return True

    async with serving(slow) as server, client(max_connections=2) as http:
        results = await asyncio.gather(*(http.get(server.url) for _ in range(10)))
        assert [r.content for r in results] == [b"ok"] * 10
        assert server.most_open == 2


async def test_a_cancelled_request_gives_its_slot_back() -> None:
    gate = asyncio.Event()

    async def waits(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        if b"/slow" in head:
            await gate.wait()
        writer.write(response(200, b"ok"))
        await writer.drain()
        return True

    async with serving(waits) as server, client(max_connections=1) as http:
        pending = asyncio.create_task(http.get(server.url + "/slow"))
        await asyncio.sleep(0.05)
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        gate.set()
        async with asyncio.timeout(5):
            assert (await http.get(server.url + "/fast")).content == b"ok"


async def test_large_bodies_arrive_whole_while_read_slowly() -> None:
    payload = bytes(range(256)) * 16384  # 4 MiB: more than the read buffer holds

    async def big(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(response(200, payload))
        await writer.drain()
        return True

    async with serving(big) as server, client() as http:
        async with http.stream("GET", server.url) as streamed:
            parts = []
            async for part in streamed.aiter_bytes():
                parts.append(part)
                await asyncio.sleep(0)
        assert b"".join(parts) == payload
        assert (await http.get(server.url)).content == payload
        assert server.connections == 1


async def test_only_http_and_https_are_spoken() -> None:
    async with client() as http:
        with pytest.raises(UnsupportedProtocol):
            await http.get("ftp://127.0.0.1:9/v2/")


async def test_an_early_answer_to_an_upload_is_returned() -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(response(413, b"too big", "Connection: close\r\n"))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    try:
        async with client() as http:
            body = b"x" * (8 * 1024 * 1024)
            answer = await http.put(f"http://{host}:{port}/upload", content=body)
            assert answer.status_code == 413
            assert answer.content == b"too big"
    finally:
        server.close()


async def test_a_body_that_ends_with_the_connection() -> None:
    async def old_style(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
        await writer.drain()
        return False

    async with serving(old_style) as server, client() as http:
        assert (await http.get(server.url)).content == b"until the end"
        assert (await http.get(server.url)).content == b"until the end"
        assert server.connections == 2


async def test_idle_connections_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dregsy.registry.session.KEEPALIVE", 0.05)
    async with serving(ok) as server, client() as http:
        await http.get(server.url)
        await asyncio.sleep(0.1)  # longer than KEEPALIVE: the idle connection expired
        await http.get(server.url)
        assert server.connections == 2


async def test_stray_bytes_after_a_response_are_an_error_and_retire_the_connection() -> None:
    sent: list[bool] = []

    async def sloppy(head: bytes, body: bytes, writer: asyncio.StreamWriter) -> bool:
        # the first answer has a body after a HEAD response: it is not taken as an answer,
        # and its connection is not used again
        writer.write(response(200, b"", "") + (b"" if sent else b"stray"))
        sent.append(True)
        await writer.drain()
        return True

    async with serving(sloppy) as server, client() as http:
        with pytest.raises(RemoteProtocolError, match=r"not HTTP/1\.1") as info:
            await http.head(server.url)
        assert "stray" not in str(info.value)  # the server's bytes are not quoted
        assert (await http.head(server.url)).status_code == 200
        assert server.connections == 2


async def test_a_response_still_open_at_close_is_not_pooled() -> None:
    async with serving(ok) as server, client(max_connections=2) as http:
        async with http.stream("GET", server.url) as streamed:
            await http.session.aclose()
            assert await streamed.aread() == b"hello"
        await server.until_all_closed()  # closed, not kept idle (else this times out)


async def test_a_header_value_http_cannot_carry_is_refused_without_quoting_it() -> None:
    """An HTTP library's error may quote the offending value: maybe a token (issue 16)."""
    secret = "tok-SECRET"
    async with serving(ok) as server, client() as http:
        with pytest.raises(LocalProtocolError) as info:
            await http.get(server.url, headers={"Authorization": f"Bearer x\n{secret}"})
        assert secret not in str(info.value)
        assert "cannot carry" in str(info.value)
        assert server.heads == []  # nothing was sent
