from __future__ import annotations

import json

import pytest

from dregsy.auth.challenge import parse_challenge, pick_challenge
from dregsy.auth.token import TokenCache, covers, parse_token_response
from dregsy.errors import AuthError


def test_parse_bearer_challenge() -> None:
    challenge = parse_challenge(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:demo/app:pull repository:demo/other:pull"'
    )
    assert challenge is not None
    assert challenge.scheme == "bearer"
    assert challenge.realm == "https://auth.example.com/token"
    assert challenge.service == "registry.example.com"
    assert challenge.scopes == ("repository:demo/app:pull", "repository:demo/other:pull")


def test_parse_basic_and_escapes() -> None:
    challenge = parse_challenge('Basic realm="a \\"quoted\\" realm"')
    assert challenge is not None
    assert challenge.scheme == "basic"
    assert challenge.realm == 'a "quoted" realm'


def test_pick_prefers_bearer() -> None:
    picked = pick_challenge(['Basic realm="x"', 'Bearer realm="https://t/token"', "Negotiate"])
    assert picked is not None
    assert picked.scheme == "bearer"
    assert pick_challenge(["Negotiate abc"]) is None
    assert pick_challenge([""]) is None


def test_token_response_aliases_and_expiry() -> None:
    token = parse_token_response(
        json.dumps({"access_token": "abc", "expires_in": 300}).encode(), scopes=["s"], now=100.0
    )
    assert token.value == "abc"
    assert token.expires_at == 390.0  # renewed 10 s ahead
    assert "abc" not in repr(token)
    default = parse_token_response(b'{"token": "t"}', scopes=[], now=0.0)
    assert default.expires_at == 50.0
    with pytest.raises(AuthError):
        parse_token_response(b'{"nothing": 1}', scopes=[], now=0.0)
    with pytest.raises(AuthError):
        parse_token_response(b"<html>", scopes=[], now=0.0)


def test_covers_compares_actions_per_resource() -> None:
    granted = frozenset({"repository:a:pull,push", "repository:b:pull"})
    assert covers(granted, ["repository:a:pull"])
    assert covers(granted, ["repository:a:push,pull", "repository:b:pull"])
    assert not covers(granted, ["repository:b:push"])
    assert not covers(granted, ["repository:c:pull"])


def test_token_cache_drops_expired_tokens() -> None:
    cache = TokenCache()
    token = parse_token_response(b'{"token": "t", "expires_in": 60}', scopes=["x:y:pull"], now=0)
    cache.add(token)
    assert cache.find(["x:y:pull"], now=10) is token
    assert cache.find(["x:y:pull"], now=55) is None  # within the renewal margin


def test_short_lived_tokens_are_still_used() -> None:
    token = parse_token_response(b'{"token": "t", "expires_in": 8}', scopes=["s"], now=0.0)
    cache = TokenCache()
    cache.add(token)
    assert cache.find(["s"], now=3.0) is token  # renewed at half its life, not at once
    assert cache.find(["s"], now=5.0) is None
