"""Pure parts of the hardening against hostile input (issue 16)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dregsy.auth.token import MAX_EXPIRES_IN, parse_token_response
from dregsy.errors import AuthError
from dregsy.fileread import FileReadError, read_limited, unreadable_reason
from dregsy.jsontext import JSONError, loads
from dregsy.logsetup import escape_controls


def test_huge_integers_read_as_infinity() -> None:
    doc = loads(b'{"size": ' + b"9" * 5000 + b', "n": -' + b"9" * 5000 + b', "ok": 12}')
    assert doc == {"size": float("inf"), "n": float("-inf"), "ok": 12}


def test_deep_nesting_is_a_json_error() -> None:
    with pytest.raises(JSONError, match="nested too deeply"):
        loads("[" * 100_000 + "]" * 100_000)


def test_invalid_json_and_utf8_are_json_errors() -> None:
    for bad in (b"{", b"\xff\xfe", b""):
        with pytest.raises(JSONError):
            loads(bad)


def test_token_lifetime_of_hundreds_of_digits_is_capped() -> None:
    body = b'{"token": "abc", "expires_in": ' + b"9" * 400 + b"}"
    token = parse_token_response(body, scopes=(), now=0.0)
    assert token.expires_at <= MAX_EXPIRES_IN


@pytest.mark.parametrize("value", ["a\nb", "a b", "a\rb", "tok\x00", "é"])
def test_tokens_must_be_header_safe_and_are_never_quoted(value: str) -> None:
    body = json.dumps({"token": value}).encode()
    with pytest.raises(AuthError) as info:
        parse_token_response(body, scopes=(), now=0.0)
    assert value not in str(info.value)


def test_control_characters_are_escaped() -> None:
    text = "x\nFORGED\r\x1b[2J\x07\x7f\x85\u2028 ok é"
    assert escape_controls(text) == "x\\nFORGED\\r\\x1b[2J\\x07\\x7f\\x85\\u2028 ok é"


def test_read_limited(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.write_bytes(b"abc")
    assert read_limited(small, 3) == b"abc"
    with pytest.raises(FileReadError, match="larger than 2 KiB"):
        read_limited(_big(tmp_path), 2048)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero"), tmp_path):
        with pytest.raises(FileReadError, match="not a regular file"):
            read_limited(path, 1024)
        assert unreadable_reason(path, 1024) == "not a regular file"
    assert unreadable_reason(tmp_path / "missing", 1024) is None
    with pytest.raises(FileNotFoundError):
        read_limited(tmp_path / "missing", 1024)


def _big(tmp_path: Path) -> Path:
    path = tmp_path / "big"
    path.write_bytes(b"x" * 4096)
    return path
