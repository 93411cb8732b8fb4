"""No `auth` value, nor anything decoded from one, ever appears in an error."""

from __future__ import annotations

import base64
import json
import traceback

import pytest
from rich.pretty import pretty_repr

from dregsy.config.load import parse_config
from dregsy.errors import ConfigError

SECRET = "hunter2-Zq9"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def config(source: str) -> str:
    return (
        "tasks:\n  - name: t\n    source:\n      registry: s.io\n"
        f"{source}\n    target: {{registry: d.io}}\n    mappings: [{{from: a}}]\n"
    )


NOT_UTF8 = base64.b64encode(b"\xff\xfe" + SECRET.encode()).decode()
NO_USERNAME = b64(json.dumps({"password": SECRET}))
NO_PASSWORD = b64(json.dumps({"username": SECRET}))
NO_PASSWORD_TEXT = b64(json.dumps({"username": "u", "password": [SECRET]}))
JSON_LIST = b64(json.dumps([SECRET]))
VALID = b64(json.dumps({"username": "u", "password": SECRET}))

AUTHS = {
    "bad-base64": f"      auth: '{SECRET}!'",
    "not-json": f"      auth: '{b64(SECRET + ' plain text')}'",
    "no-username": f"      auth: '{NO_USERNAME}'",
    "password-not-text": f"      auth: '{NO_PASSWORD_TEXT}'",
    "empty-username": f"      auth: '{b64(':' + SECRET)}'",
    "json-list": f"      auth: '{JSON_LIST}'",
    "not-utf8": f"      auth: '{NOT_UTF8}'",
    "list": f"      auth: ['{SECRET}']",
    "number-tag": f"      auth: !!int {SECRET}",
    "unterminated": f'      auth: "{SECRET}',
    "misspelled": f"      auht: {SECRET}",
    "duplicate": f"      auth: {b64(SECRET)}\n      auth: {SECRET}",
    "refresh-not-ecr": f"      auth: {VALID}\n      auth-refresh: 1h",
}


@pytest.mark.parametrize("source", AUTHS.values(), ids=AUTHS.keys())
def test_auth_never_in_errors(source: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config(source))
    error = info.value
    assert error.problems
    assert error.__cause__ is None
    assert error.__suppress_context__ or error.__context__ is None
    printed = "".join(traceback.format_exception(error)) + repr(error)
    printed += "".join(repr(p) for p in error.problems)
    assert SECRET not in printed
    assert SECRET[:6] not in printed
    for line in source.splitlines():
        value = line.split(":", 1)[1].strip().strip("'\"[]")
        assert value not in printed


def test_username_without_password_is_a_warning_without_the_auth() -> None:
    parsed = parse_config(config(f"      auth: '{NO_PASSWORD}'"))
    creds = parsed.tasks[0].source.credentials
    assert creds is not None
    assert (creds.username, creds.password) == (SECRET, "")
    (warning,) = parsed.warnings
    assert warning.path == "tasks[0].source.auth"
    assert "has a username but no password" in warning.message
    assert SECRET not in str(warning)
    assert NO_PASSWORD not in str(warning)


def test_password_not_in_resolved_repr() -> None:
    parsed = parse_config(config(f"      auth: {VALID}"))
    assert parsed.tasks[0].source.credentials is not None
    assert parsed.tasks[0].source.credentials.password == SECRET
    assert SECRET not in repr(parsed)
    assert VALID not in repr(parsed)
    shown = pretty_repr(parsed)  # rich asks __rich_repr__, not __repr__
    assert "Credentials(username=" in shown
    assert SECRET not in shown
    assert VALID not in shown
