"""Config values that need more than a type check: registries, auth, durations, tags, ...

Each validator takes the raw YAML value and raises `problem(...)`, a pydantic error whose
message is already the sentence the user reads. Nothing here echoes an `auth` value.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import math
import re
from typing import Annotated, Literal

from pydantic import PlainValidator
from pydantic_core import PydanticCustomError

from dregsy.config.types import Credentials
from dregsy.duration import parse_duration
from dregsy.errors import InvalidReferenceError
from dregsy.reference import Registry, Repository, parse_registry
from dregsy.selection.filters import TagEntry, TagEntryError, parse_entry
from dregsy.selection.paths import PathRuleError, Rewrite, SourcePattern, is_regex

ERROR_TYPE = "dregsy_config"  # pydantic error type of every message made here
NO_AUTH: Literal["none"] = "none"  # `auth: none`: anonymous access, never look up credentials
_ANY_REGISTRY = Registry(host="registry.invalid")  # not Docker Hub: paths are kept as written
_PLATFORM_RE = re.compile(r"[a-z0-9_]+/[a-z0-9_]+(?:/[a-z0-9_.]+)?")
_AUTH_SHAPE = 'base64 of {"username": ..., "password": ...}, or none'


def problem(message: str, *, key: str | None = None) -> PydanticCustomError:
    """A validation error carrying a finished message; `key`: the sub-key it is about."""
    context: dict[str, str] = {"reason": message}
    if key is not None:
        context["key"] = key
    return PydanticCustomError(ERROR_TYPE, "{reason}", context)


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
        raise problem("has no value")
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise problem("must be a string, not a number (put it in quotes)")
    if not isinstance(value, str):
        raise problem(f"must be a string, not {kind_of(value)}")
    if not value.strip():
        raise problem("must not be empty")
    return value.strip()


def _registry(value: object) -> Registry:
    try:
        return parse_registry(_text(value))
    except InvalidReferenceError as exc:
        raise problem(str(exc)) from None


def check_path(text: str) -> str:
    """A repository path as written (`library/` is added later, per registry)."""
    try:
        Repository.parse(_ANY_REGISTRY, text)
    except InvalidReferenceError as exc:
        raise problem(str(exc)) from None
    return text


def rewritten_path(path: str, rewrite: Rewrite, *, key: str) -> str:
    """`path` rewritten by a `to: regex:...`; a problem at `key` if that is no valid path."""
    target = rewrite.apply(path)
    try:
        Repository.parse(_ANY_REGISTRY, target)
    except InvalidReferenceError:
        message = f"rewrites '{path}' to {target!r}, which is not a valid repository path"
        raise problem(message, key=key) from None
    return target


def _source(value: object) -> str | SourcePattern:
    """`from`: a repository path, or `regex:<re>` over the source's repository list."""
    text = _text(value)
    if not is_regex(text):
        return check_path(text)
    try:
        return SourcePattern.parse(text)
    except PathRuleError as exc:
        raise problem(str(exc)) from None


def _target(value: object) -> str | Rewrite:
    """`to`: a repository path (a prefix for regex mappings), or `regex:<re>,<replacement>`."""
    text = _text(value)
    if not is_regex(text):
        return check_path(text)
    try:
        return Rewrite.parse(text)
    except PathRuleError as exc:
        raise problem(str(exc)) from None


def _auth(value: object) -> Credentials | Literal["none"]:
    text = _text(value)
    if text == NO_AUTH:
        return NO_AUTH
    if text.lower() == NO_AUTH:
        raise problem(f"must be written '{NO_AUTH}' in lower case to turn authentication off")
    compact = re.sub(r"\s+", "", text).replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except binascii.Error:
        raise problem(f"is not valid base64; expected {_AUTH_SHAPE}") from None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise problem(f"does not decode to UTF-8 text; expected {_AUTH_SHAPE}") from None
    if not decoded.lstrip().startswith("{") and ":" in decoded:
        # dregsy also takes base64 of `username:password` (Docker's `auth` format)
        username, _, password = decoded.rstrip("\r\n").partition(":")
        if not username:
            raise problem("decodes to an empty username")
        return Credentials(username, password)
    try:
        data = json.loads(decoded)
    except ValueError:
        raise problem(f"does not decode to JSON; expected {_AUTH_SHAPE}") from None
    if not isinstance(data, dict):
        raise problem(f"does not decode to a JSON object; expected {_AUTH_SHAPE}")
    user, secret = data.get("username"), data.get("password")
    if not isinstance(user, str) or not user:
        raise problem("decodes to JSON without a 'username' string")
    if not isinstance(secret, str):
        raise problem("decodes to JSON without a 'password' string")
    return Credentials(user, secret)


def _refresh(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise problem("must be a Go duration with a unit, e.g. '12h'")
    try:
        seconds = parse_duration(_text(value))
    except ValueError as exc:
        raise problem(str(exc)) from None
    if seconds <= 0:
        raise problem("must be a positive duration, e.g. '12h'")
    return seconds


def _cache_duration(value: object) -> float:
    """Seconds; negative turns caching off, 0 means the default (as in dregsy)."""
    if isinstance(value, int) and not isinstance(value, bool) and value <= 0:
        return float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise problem("must be a Go duration with a unit, e.g. '1h', or -1 to turn caching off")
    text = _text(value)
    if text == "-1":
        return -1.0
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise problem(str(exc)) from None


def _interval(value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < 0
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        raise problem("must be a number of seconds >= 0")
    try:
        return float(value)
    except OverflowError:
        raise problem("is too large") from None


def _tag(value: object) -> TagEntry:
    """One `tags:` entry: a tag, a digest, or a `semver:`/`regex:`/`keep:` filter."""
    try:
        return parse_entry(_text(value))
    except TagEntryError as exc:
        raise problem(str(exc)) from None


def _platform(value: object) -> str:
    text = _text(value)
    if text == "all":
        return text
    if _PLATFORM_RE.fullmatch(text):
        return text
    raise problem(f"invalid platform {text!r}: expected all or os/arch[/variant]")


def _platforms(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise problem(f"must be a list, not {kind_of(value)}")
    platforms = tuple(_text(item) for item in value)
    for text in platforms:
        if text == "all" or not _PLATFORM_RE.fullmatch(text):
            raise problem(f"invalid platform {text!r}: expected os/arch[/variant]")
    if len(set(platforms)) != len(platforms):
        raise problem("lists a platform twice")
    return platforms


RegistryField = Annotated[Registry, PlainValidator(_registry)]
SourceField = Annotated[str | SourcePattern, PlainValidator(_source)]
TargetField = Annotated[str | Rewrite, PlainValidator(_target)]
AuthField = Annotated[Credentials | Literal["none"], PlainValidator(_auth)]
RefreshField = Annotated[float, PlainValidator(_refresh)]
CacheDurationField = Annotated[float, PlainValidator(_cache_duration)]
IntervalField = Annotated[float, PlainValidator(_interval)]
TagField = Annotated[TagEntry, PlainValidator(_tag)]
PlatformField = Annotated[str, PlainValidator(_platform)]
PlatformsField = Annotated[tuple[str, ...], PlainValidator(_platforms)]
