"""Go durations, as `time.ParseDuration` reads them."""

from __future__ import annotations

import pytest

from dregsy.duration import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10h", 36000.0),
        ("1h30m", 5400.0),
        ("45m", 2700.0),
        ("1.5h", 5400.0),
        ("300ms", 0.3),
        ("2h45m30s", 9930.0),
        ("90s", 90.0),
        ("1500us", 0.0015),
        ("1500\u00b5s", 0.0015),
        ("1500\u03bcs", 0.0015),
        ("250ns", 2.5e-7),
        (".5s", 0.5),
        ("5.s", 5.0),
        ("1s1h", 3601.0),
        ("0", 0.0),
        ("-0", 0.0),
        ("+5m", 300.0),
        ("-1h", -3600.0),
        ("0s", 0.0),
    ],
)
def test_valid(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected e.g. '1h30m'"),
        ("-", "expected e.g. '1h30m'"),
        ("-1", "missing unit after '1'"),
        ("60", "missing unit"),
        ("1.5", "missing unit"),
        ("1d", "unknown unit 'd'"),
        ("1H", "unknown unit 'H'"),
        ("1 h", "unknown unit ' h'"),
        (" 1h", "expected a number"),
        ("h", "expected a number at 'h'"),
        ("1h30", "missing unit after '30'"),
        (".", "expected a number"),
        ("1..5s", "missing unit after '1.'"),
        ("soon", "expected a number"),
    ],
)
def test_invalid(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as info:
        parse_duration(text)
    assert fragment in str(info.value)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize(
    ("text", "shown"),
    [("5m", "5m"), ("1h30m", "1h30m"), ("90s", "1m30s"), ("1.5s", "1.5s"), ("250ms", "250ms")],
)
def test_format_duration(text: str, shown: str) -> None:
    assert format_duration(parse_duration(text)) == shown
