"""Log context: which task a log line belongs to, carried by contextvars."""

from __future__ import annotations

import contextvars

current_task: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dregsy_task", default=None
)
