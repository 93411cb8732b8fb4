"""Config values that need more than a type check: registries, auth, durations, tags, ...

Each parser takes the raw YAML value and returns the checked value, or raises `Problem`,
whose message is already the sentence the user reads. Nothing here echoes an `auth` value.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
from typing import Literal

from dregsy import jsontext
from dregsy.config.types import Credentials
from dregsy.duration import parse_duration
from dregsy.errors import InvalidReferenceError
from dregsy.reference import Registry, Repository
from dregsy.reference import parse_registry as registry_of
from dregsy.selection.filters import TagEntry, TagEntryError, parse_entry
from dregsy.selection.paths import PathRuleError, Rewrite, SourcePattern, is_regex

NO_AUTH: Literal["none"] = "none"  # `auth: none`: anonymous access, never look up credentials
_ANY_REGISTRY = Registry(host="registry.invalid")  # not Docker Hub: paths are kept as written
_PLATFORM_RE = re.compile(r"[a-z0-9_]+/[a-z0-9_]+(?:/[a-z0-9_.]+)?")
MIN_AUTH_REFRESH = 60.0  # seconds: a shorter `auth-refresh` is raised to this
_AUTH_SHAPE = 'base64 of {"username": ..., "password": ...}, or none'


class Problem(Exception):
    """A value's problem as a finished message; `key`: the sub-key it is about, if any."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key


def kind_of(value: object) -> str:
    """What a YAML value is, in words, without showing it."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, float):
        return "a decimal number"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return "a string"
    return "a date" if isinstance(value, datetime.date) else "something else"


def _text(value: object) -> str:
    if value is None:
        raise Problem("has no value")
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise Problem("must be a string, not a number (put it in quotes)")
    if not isinstance(value, str):
        raise Problem(f"must be a string, not {kind_of(value)}")
    if not value.strip():
        raise Problem("must not be empty")
    return value.strip()


def parse_registry(value: object) -> Registry:
    try:
        return registry_of(_text(value))
    except InvalidReferenceError as exc:
        raise Problem(str(exc)) from None


def check_path(text: str) -> str:
    """A repository path as written (`library/` is added later, per registry)."""
    try:
        Repository.parse(_ANY_REGISTRY, text)
    except InvalidReferenceError as exc:
        raise Problem(str(exc)) from None
    return text


def rewritten_path(path: str, rewrite: Rewrite, *, key: str) -> str:
    """`path` rewritten by a `to: regex:...`; a problem at `key` if that is no valid path."""
    target = rewrite.apply(path)
    try:
        Repository.parse(_ANY_REGISTRY, target)
    except InvalidReferenceError:
        message = f"rewrites '{path}' to {target!r}, which is not a valid repository path"
        raise Problem(message, key=key) from None
    return target


def parse_source(value: object) -> str | SourcePattern:
    """`from`: a repository path, or `regex:<re>` over the source's repository list."""
    text = _text(value)
    if not is_regex(text):
        return check_path(text)
    try:
        return SourcePattern.parse(text)
    except PathRuleError as exc:
        raise Problem(str(exc)) from None


def parse_target(value: object) -> str | Rewrite:
    """`to`: a repository path (a prefix for regex mappings), or `regex:<re>,<replacement>`."""
    text = _text(value)
    if not is_regex(text):
        return check_path(text)
    try:
        return Rewrite.parse(text)
    except PathRuleError as exc:
        raise Problem(str(exc)) from None


def parse_auth(value: object) -> Credentials | Literal["none"]:
    text = _text(value)
    if text == NO_AUTH:
        return NO_AUTH
    if text.lower() == NO_AUTH:
        raise Problem(f"must be written '{NO_AUTH}' in lower case to turn authentication off")
    compact = re.sub(r"\s+", "", text).replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except binascii.Error:
        raise Problem(f"is not valid base64; expected {_AUTH_SHAPE}") from None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(f"does not decode to UTF-8 text; expected {_AUTH_SHAPE}") from None
    if not decoded.lstrip().startswith("{") and ":" in decoded:
        # dregsy also takes base64 of `username:password` (Docker's `auth` format)
        username, _, password = decoded.rstrip("\r\n").partition(":")
        if not username:
            raise Problem("decodes to an empty username")
        return Credentials(username, password)
    try:
        data = jsontext.loads(decoded)
    except ValueError:
        raise Problem(f"does not decode to JSON; expected {_AUTH_SHAPE}") from None
    if not isinstance(data, dict):
        raise Problem(f"does not decode to a JSON object; expected {_AUTH_SHAPE}")
    user, secret = data.get("username"), data.get("password")
    if not isinstance(user, str) or not user:
        raise Problem("decodes to JSON without a 'username' string")
    if secret is None:  # dregsy sends an empty password (a warning says so)
        secret = ""
    if not isinstance(secret, str):
        raise Problem("decodes to JSON without a 'password' string")
    return Credentials(user, secret)


def is_nanoseconds(value: object) -> bool:
    """A duration written as a plain whole number, which dregsy (a Go `time.Duration`
    read by yaml.v2) takes as nanoseconds."""
    return isinstance(value, int) and not isinstance(value, bool)


def parse_refresh(value: object) -> float:
    """A positive Go duration in seconds, with a unit (`stall-timeout`, ...)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise Problem("must be a Go duration with a unit, e.g. '12h'")
    try:
        seconds = parse_duration(_text(value))
    except ValueError as exc:
        raise Problem(str(exc)) from None
    if seconds <= 0:
        raise Problem("must be a positive duration, e.g. '12h'")
    return seconds


def parse_auth_refresh(value: object) -> float:
    """`auth-refresh`: seconds, at least `MIN_AUTH_REFRESH` (a warning says when that floor
    applied); a plain whole number is nanoseconds, and 0 the minimum, as in dregsy."""
    if is_nanoseconds(value):
        assert isinstance(value, int)
        seconds = value * 1e-9
    elif isinstance(value, float):
        raise Problem("must be a Go duration with a unit, e.g. '12h'")
    else:
        try:
            seconds = parse_duration(_text(value))
        except ValueError as exc:
            raise Problem(str(exc)) from None
    if seconds < 0:
        raise Problem("must be a positive duration, e.g. '12h'")
    return max(seconds, MIN_AUTH_REFRESH)


def parse_wait(value: object) -> float:
    """A positive Go duration in seconds, e.g. `5m` (taken as given: no minimum)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise Problem("must be a Go duration with a unit, e.g. '5m'")
    try:
        seconds = parse_duration(_text(value))
    except ValueError as exc:
        raise Problem(str(exc)) from None
    if seconds <= 0:
        raise Problem("must be a positive duration, e.g. '5m'")
    return seconds


def parse_cache_duration(value: object) -> float:
    """Seconds; negative turns caching off, 0 means the default (as in dregsy); a plain
    whole number is nanoseconds, as in dregsy (a warning says so)."""
    if is_nanoseconds(value):
        assert isinstance(value, int)
        return float(value) if value <= 0 else value * 1e-9
    if isinstance(value, float):
        raise Problem("must be a Go duration with a unit, e.g. '1h', or -1 to turn caching off")
    text = _text(value)
    if text == "-1":
        return -1.0
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise Problem(str(exc)) from None


def parse_interval(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < 0
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        raise Problem("must be a number of seconds >= 0")
    try:
        return float(value)
    except OverflowError:
        raise Problem("is too large") from None


def parse_tag(value: object) -> TagEntry:
    """One `tags:` entry: a tag, a digest, or a `semver:`/`regex:`/`keep:` filter."""
    try:
        return parse_entry(_text(value))
    except TagEntryError as exc:
        raise Problem(str(exc)) from None


def parse_platform(value: object) -> str:
    text = _text(value)
    if text == "all":
        return text
    if _PLATFORM_RE.fullmatch(text):
        return text
    raise Problem(f"invalid platform {text!r}: expected all or os/arch[/variant]")


_MEDIA_TYPE_RE = re.compile(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*")


def parse_media_type(value: object) -> str:
    """A media type such as `application/spdx+json` (an artifactType)."""
    text = _text(value)
    if not _MEDIA_TYPE_RE.fullmatch(text):
        raise Problem(f"invalid media type {text!r}: expected type/subtype")
    return text


def parse_platforms(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise Problem(f"must be a list, not {kind_of(value)}")
    platforms = tuple(_text(item) for item in value)
    for text in platforms:
        if text == "all" or not _PLATFORM_RE.fullmatch(text):
            raise Problem(f"invalid platform {text!r}: expected os/arch[/variant]")
    if len(set(platforms)) != len(platforms):
        raise Problem("lists a platform twice")
    return platforms
