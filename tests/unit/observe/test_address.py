from __future__ import annotations

import pytest

from dregsy.observe.address import AddressError, ListenAddress, parse_listen


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":9090", ListenAddress(None, 9090)),
        ("127.0.0.1:9090", ListenAddress("127.0.0.1", 9090)),
        ("0.0.0.0:80", ListenAddress("0.0.0.0", 80)),
        ("localhost:0", ListenAddress("localhost", 0)),
        ("[::1]:9090", ListenAddress("::1", 9090)),
        ("[::]:9090", ListenAddress("::", 9090)),
        (" metrics.internal:9102 ", ListenAddress("metrics.internal", 9102)),
    ],
)
def test_parses(text: str, expected: ListenAddress) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9090", "must be [HOST]:PORT"),
        ("", "must be [HOST]:PORT"),
        (":", "invalid port ''"),
        (":http", "invalid port 'http'"),
        (":65536", "invalid port '65536'"),
        ("::1:9090", "IPv6 address in brackets"),
        ("[fe80::zz]:1", "invalid IPv6 address 'fe80::zz'"),
        ("bad_host:1", "invalid host 'bad_host'"),
        ("-x.io:1", "invalid host '-x.io'"),
    ],
)
def test_refuses(text: str, message: str) -> None:
    with pytest.raises(AddressError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_listen(text)


@pytest.mark.parametrize("text", [":9090", "127.0.0.1:1", "[::1]:9090"])
def test_prints_as_written(text: str) -> None:
    assert str(parse_listen(text)) == text
