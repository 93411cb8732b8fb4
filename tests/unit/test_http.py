"""dregsy's HTTP vocabulary (dregsy.registry.http): how a response body is read and given back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from multidict import CIMultiDict
from yarl import URL

from dregsy.registry.http import Request, Response, origin


class Pieces:
    """A body source that arrives in the given pieces and says how it was given back."""

    def __init__(self, *pieces: bytes) -> None:
        self.pieces = pieces
        self.ended = ""  # "released" (read to the end) or "closed" (dropped)

    async def chunks(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece

    async def read(self) -> bytes:
        return b"".join(self.pieces)

    def release(self) -> None:
        self.ended = self.ended or "released"

    def close(self) -> None:
        self.ended = self.ended or "closed"


def _response(source: Pieces) -> Response:
    return Response(200, CIMultiDict(), Request("GET", URL("http://r.test/x")), source)


async def test_chunks_of_a_set_size_whatever_the_pieces() -> None:
    source = Pieces(b"ab", b"c", b"defgh", b"i")
    got = [c async for c in _response(source).aiter_bytes(4)]
    assert got == [b"abcd", b"efgh", b"i"]
    assert source.ended == "released"


async def test_a_body_read_to_the_end_is_released_and_kept() -> None:
    source = Pieces(b"one ", b"two")
    response = _response(source)
    assert await response.aread() == b"one two"
    assert await response.aread() == b"one two"
    assert source.ended == "released"
    assert response.is_stream_consumed


async def test_an_unread_or_abandoned_body_drops_its_connection() -> None:
    unread = Pieces(b"x")
    await _response(unread).aclose()
    assert unread.ended == "closed"

    abandoned = Pieces(b"a", b"b", b"c")
    response = _response(abandoned)
    async for _ in response.aiter_bytes():
        break
    await response.aclose()
    assert abandoned.ended == "closed"


async def test_a_bound_body_ends_or_fails_at_its_limit() -> None:
    cut = _response(Pieces(b"12345", b"67890"))
    cut.bound(7)
    assert await cut.aread() == b"1234567"

    source = Pieces(b"12345", b"67890")
    refused = _response(source)
    refused.bound(7, ValueError("too large"))
    with pytest.raises(ValueError, match="too large"):
        await refused.aread()
    assert source.ended == "closed"


async def test_a_body_cannot_be_read_twice_without_being_kept() -> None:
    response = _response(Pieces(b"x"))
    async for _ in response.aiter_bytes():
        pass
    with pytest.raises(RuntimeError, match="read or closed already"):
        async for _ in response.aiter_bytes():
            pass


def test_origin_is_scheme_and_host_port_without_user_information() -> None:
    assert origin(URL("https://u:p@R.test:5000/v2/")) == ("https", "r.test:5000")
    assert origin(URL("http://[::1]:5000/")) == ("http", "[::1]:5000")
    assert origin(URL("https://r.test/")) == ("https", "r.test")
