"""Blocking calls off the event loop, on threads that never hold up the process's exit.

boto3 and google-auth block, and a blocked call cannot be interrupted. asyncio's default
executor is joined when the loop closes and again when the interpreter exits, so an AWS call
hanging on a dropped connection would keep a stopped dregsy alive for minutes. Here each call
runs on a daemon thread and `shutdown` does not wait: SIGTERM stops the process in time, and
an abandoned call dies with it (it had no effect to undo).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")


class DaemonThreadExecutor(ThreadPoolExecutor):
    """One daemon thread per call; `shutdown` returns at once. (A ThreadPoolExecutor only
    because asyncio's `set_default_executor` insists; none of its pool is used.)"""

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        future: Future[_T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 -- handed to the awaiting coroutine
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=run, name="dregsy-blocking", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        return None


__all__ = ["DaemonThreadExecutor"]
