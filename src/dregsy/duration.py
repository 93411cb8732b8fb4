"""Go durations: `time.ParseDuration` strings such as `1h30m` or `300ms`, as seconds.

dregsy's config takes Go durations (`auth-refresh`, `lister.cacheDuration`), so this
accepts exactly what Go accepts: an optional sign, then one or more decimal numbers each
followed by a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), or the bare `0`.
"""

from __future__ import annotations

import re

_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,  # micro sign
    "\u03bcs": 1e-6,  # Greek small letter mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_UNIT_NAMES = "ns, us, ms, s, m, h"
_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([^0-9.]*)")


def parse_duration(text: str) -> float:
    """Parse a Go duration into seconds, e.g. `"1h30m"` → 5400.0; ValueError on anything else."""
    rest = text
    sign = 1.0
    if rest[:1] in ("-", "+"):
        sign = -1.0 if rest[0] == "-" else 1.0
        rest = rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise ValueError(f"invalid duration {text!r}: expected e.g. '1h30m', '45m' or '300ms'")
    total = 0.0
    pos = 0
    while pos < len(rest):
        match = _PART.match(rest, pos)
        if match is None:
            raise ValueError(f"invalid duration {text!r}: expected a number at {rest[pos:]!r}")
        number, unit = match.groups()
        if not unit:
            raise ValueError(
                f"invalid duration {text!r}: missing unit after {number!r} (use {_UNIT_NAMES})"
            )
        if unit not in _UNITS:
            raise ValueError(
                f"invalid duration {text!r}: unknown unit {unit!r} (use {_UNIT_NAMES})"
            )
        total += float(number) * _UNITS[unit]
        pos = match.end()
    return sign * total


def format_duration(seconds: float) -> str:
    """Seconds as a short Go-style duration: 300 → `5m`, 5400 → `1h30m`, 0.5 → `500ms`."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    fraction = seconds - whole
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    if secs or fraction:
        parts.append(f"{secs + fraction:g}s")
    return "".join(parts)
