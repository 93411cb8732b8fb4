"""Bearer tokens: parsing token-service responses and caching tokens by scope."""

from __future__ import annotations

import re
from collections.abc import Iterable

from msgspec import Struct

from dregsy import jsontext
from dregsy.errors import AuthError

# Token responses are small; refuse anything bigger (ggcr caps them at 64 KiB too).
MAX_TOKEN_RESPONSE_BYTES = 64 * 1024
# The distribution token spec: without expires_in, assume 60 seconds.
DEFAULT_EXPIRES_IN = 60.0
# Renew a token this long before it expires, so it does not expire in flight.
EXPIRY_MARGIN = 10.0
# A longer `expires_in` is read as this (a day): the number may have hundreds of digits.
MAX_EXPIRES_IN = 86400.0
# What a token may contain: visible ASCII, as an HTTP header value allows. A token with a
# newline or a control character could split the request, or be quoted in an error.
_TOKEN_RE = re.compile(r"[\x21-\x7e]+")


class Token(Struct, frozen=True):
    """A bearer token with the scopes it was issued for and when it expires (monotonic)."""

    value: str
    scopes: frozenset[str]
    expires_at: float  # when to renew it: a little before the token service says it expires

    def __repr__(self) -> str:  # never show the token itself
        return f"Token(scopes={sorted(self.scopes)}, expires_at={self.expires_at})"

    @property
    def header(self) -> str:
        return f"Bearer {self.value}"


def parse_token_response(body: bytes, *, scopes: Iterable[str], now: float) -> Token:
    """Read `{"token": …}` or `{"access_token": …}` with an optional `expires_in`."""
    try:
        doc = jsontext.loads(body)
    except jsontext.JSONError as exc:
        raise AuthError("token service returned invalid JSON") from exc
    if not isinstance(doc, dict):
        raise AuthError("token service returned no JSON object")
    value = doc.get("token") or doc.get("access_token")
    if not isinstance(value, str) or not value:
        raise AuthError("token service response has no token")
    if not _TOKEN_RE.fullmatch(value):
        raise AuthError(
            "token service returned a token with characters an HTTP header cannot carry"
        )
    expires_in = doc.get("expires_in")
    lifetime = 0.0
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        lifetime = float(min(expires_in, MAX_EXPIRES_IN))
    lifetime = lifetime or DEFAULT_EXPIRES_IN
    # Renew ahead of expiry, but never so far ahead that a short-lived token is stale at once.
    return Token(value, frozenset(scopes), now + lifetime - min(EXPIRY_MARGIN, lifetime / 2))


def covers(granted: frozenset[str], wanted: Iterable[str]) -> bool:
    """Whether scopes `granted` include every scope in `wanted` (actions compared as sets)."""
    have: dict[str, set[str]] = {}
    for scope in granted:
        resource, actions = _split(scope)
        have.setdefault(resource, set()).update(actions)
    for scope in wanted:
        resource, actions = _split(scope)
        if not actions <= have.get(resource, set()):
            return False
    return True


def _split(scope: str) -> tuple[str, set[str]]:
    resource, _, actions = scope.rpartition(":")
    return resource, set(actions.split(","))


class TokenCache:
    """Tokens of one registry and identity, found by the scopes a request needs."""

    def __init__(self) -> None:
        self._tokens: list[Token] = []

    def find(self, scopes: Iterable[str], now: float) -> Token | None:
        wanted = tuple(scopes)
        self._tokens = [t for t in self._tokens if t.expires_at > now]
        for token in self._tokens:
            if covers(token.scopes, wanted):
                return token
        return None

    def add(self, token: Token) -> None:
        self._tokens.append(token)

    def discard(self, token: Token) -> None:
        if token in self._tokens:
            self._tokens.remove(token)
