"""JSON from outside (registries, token services, files), parsed without crashing on legal
but odd documents: integers of thousands of digits and arrays nested thousands deep.

Python's parser refuses integers of more than 4,300 digits (ValueError) and recurses once
per level of nesting (RecursionError). Here a huge integer reads as infinity (a manifest may
carry one where nobody reads it: skopeo copies it, and so do we) and too deep a nesting is a
`ValueError` like any other malformed document.
"""

from __future__ import annotations

import json

MAX_INT_DIGITS = 4000  # longer integers read as float('inf') (or -inf)


def _int(text: str) -> int | float:
    return int(text) if len(text) <= MAX_INT_DIGITS else float(text)


class JSONError(ValueError):
    """The text is not JSON dregsy can read (invalid, not UTF-8, or nested too deeply)."""


def loads(data: bytes | str) -> object:
    """The parsed document; JSONError for anything that is not readable JSON."""
    try:
        return json.loads(data, parse_int=_int)
    except RecursionError:
        raise JSONError("JSON nested too deeply") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise JSONError(str(exc)) from None
