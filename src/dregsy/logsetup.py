"""Logging setup: readable lines on a terminal, or one JSON object per line.

Only `cli.py` calls `configure`. `LOG_LEVEL` (trace, debug, info, warn, error, fatal, panic,
as in dregsy) sets the level; `LOG_FORMAT=json` switches to JSON. httpx's and httpcore's own
loggers stay at WARNING whatever the level, so request headers never reach a log; so do
aiohttp's (the HTTP endpoint), which go through the same handler.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TextIO

from dregsy.logcontext import current_task

_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "panic": logging.CRITICAL,
}


class _TaskFilter(logging.Filter):
    def __init__(self, shard: str | None = None) -> None:
        super().__init__()
        self._shard = shard

    def filter(self, record: logging.LogRecord) -> bool:
        record.task = current_task.get()
        record.shard = self._shard
        return True


# C0 controls (newline, CR, ESC...), DEL, C1 controls and the Unicode line separators: text
# from a registry (error messages, repository and tag names) must not forge log lines or
# reach the operator's terminal as control sequences.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """`text` with every control character written as an escape (`\\n`, `\\x1b`)."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        task = getattr(record, "task", None)
        prefix = f"[{task}] " if task else ""
        message = escape_controls(f"{prefix}{record.getMessage()}")
        line = f"{when} {record.levelname:<7} {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            "logger": record.name,
        }
        task = getattr(record, "task", None)
        if task:
            doc["task"] = task
        shard = getattr(record, "shard", None)
        if shard:
            doc["shard"] = shard
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def parse_level(text: str | None) -> int | None:
    """The logging level for a LOG_LEVEL value; None when unknown."""
    return _LEVELS.get((text or "info").strip().lower())


class _Stderr:
    """Whatever `sys.stderr` is at the time of each write (the terminal progress display
    swaps in a stream that prints above its live lines)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(
    env: Mapping[str, str], stream: TextIO | None = None, *, shard: str | None = None
) -> list[str]:
    """Set up the `dregsy` logger from the environment (on stderr unless `stream` is
    given); returns warnings to log. With a `shard` (`2/4`), every JSON line carries it
    as `shard`."""
    warnings: list[str] = []
    level = parse_level(env.get("LOG_LEVEL"))
    if level is None:
        warnings.append(f"unknown LOG_LEVEL {env.get('LOG_LEVEL')!r}, using info")
        level = logging.INFO
    fmt = env.get("LOG_FORMAT", "text").strip().lower()
    handler: logging.StreamHandler[TextIO] = logging.StreamHandler(
        stream if stream is not None else _Stderr()  # type: ignore[arg-type]
    )
    handler.addFilter(_TaskFilter(shard))
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    if fmt not in ("json", "text", ""):
        warnings.append(f"unknown LOG_FORMAT {fmt!r}, using text")
    root = logging.getLogger("dregsy")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # The HTTP endpoint's server: its warnings and errors (a failing handler) in our format;
    # requests are not logged.
    server = logging.getLogger("aiohttp")
    server.handlers[:] = [handler]
    server.setLevel(logging.WARNING)
    server.propagate = False
    return warnings
