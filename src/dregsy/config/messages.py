"""Pydantic's validation errors, retold as one short sentence per problem.

No pydantic wording ("Input should be ...") or URLs reach the user, and no input value is
shown except unknown key names and the finished messages of `dregsy.config.fields`.
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from dregsy.config.fields import ERROR_TYPE, kind_of
from dregsy.config.issues import Issue, Loc

_EXPECTED = {  # pydantic type error → what the key must be
    "bool_type": "true or false",
    "string_type": "a string",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
    "dict_type": "a mapping of keys to values",
    "tuple_type": "a list",
    "list_type": "a list",
}


def translate(error: ValidationError, root: type[BaseModel]) -> list[Issue]:
    """One Issue per pydantic error, with `root` the model that was validated.

    A missing key that an unknown key's hint already names (`form:` → did you mean
    'from'?) is not reported a second time as "is required".
    """
    details = error.errors(include_url=False)
    hinted = set()
    for detail in details:
        if detail["type"] == "extra_forbidden":
            loc = tuple(detail["loc"])
            hint = _suggest(root, loc)
            if hint is not None:
                hinted.add((*loc[:-1], hint))
    return [
        _issue(detail, root)
        for detail in details
        if not (detail["type"] == "missing" and tuple(detail["loc"]) in hinted)
    ]


def _issue(detail: ErrorDetails, root: type[BaseModel]) -> Issue:
    loc: Loc = tuple(detail["loc"])
    kind = detail["type"]
    context = detail.get("ctx") or {}
    value = detail["input"]
    if kind == ERROR_TYPE:
        key = context.get("key")
        return Issue((*loc, key) if isinstance(key, str) else loc, str(context["reason"]))
    if kind == "missing":
        return Issue(loc, "is required")
    if kind == "extra_forbidden":
        return Issue(loc, _unknown_key(root, loc))
    if kind in _EXPECTED:
        if value is None:
            return Issue(loc, f"has no value; it must be {_EXPECTED[kind]}")
        message = f"must be {_EXPECTED[kind]}, not {kind_of(value)}"
        if kind == "string_type" and isinstance(value, int | float):
            message += " (put it in quotes)"
        return Issue(loc, message)
    if kind == "literal_error":
        return Issue(loc, f"must be one of {context.get('expected', '?')}")
    if kind == "string_too_short":
        return Issue(loc, "must not be empty")
    if kind == "invalid_key":
        return Issue(loc[:-1], "keys must be plain names")
    message = detail["msg"].replace("Input should be", "must be").replace("Value error, ", "")
    return Issue(loc, message[:1].lower() + message[1:])


def _unknown_key(root: type[BaseModel], loc: Loc) -> str:
    hint = _suggest(root, loc)
    text = f"unknown key '{loc[-1]}'"
    return text if hint is None else f"{text} (did you mean '{hint}'?)"


def _suggest(root: type[BaseModel], loc: Loc) -> str | None:
    """The known key closest to the unknown key at the end of `loc`, if any is close."""
    key = str(loc[-1])
    known = _keys_at(root, loc[:-1])
    for candidate in (key, key.lower(), key.replace("_", "-").lower()):
        close = difflib.get_close_matches(candidate, known, n=1, cutoff=0.6)
        if close:
            return close[0]
    return None


def _keys_at(root: type[BaseModel], loc: Loc) -> list[str]:
    """The keys the model at `loc` accepts, found by walking the field annotations."""
    current: object = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = get_args(current)
            if get_origin(current) is not tuple or not args:
                return []
            current = args[0]
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        fields = {info.alias or name: info for name, info in current.model_fields.items()}
        if part not in fields:
            return []
        current = fields[part].annotation
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _unwrap(annotation: object) -> object:
    """Strip `Annotated[...]` and `... | None` down to the type inside."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            rest = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation
