"""Test servers run in a background thread on loopback: start, stop, or `with`."""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType
from typing import Generic, Self, TypeVar

S = TypeVar("S", bound=socketserver.BaseServer)


class BackgroundServer(Generic[S]):
    """Serves what `_make_server` builds (bound to 127.0.0.1) from a daemon thread."""

    def __init__(self) -> None:
        self._running: tuple[S, threading.Thread] | None = None

    def _make_server(self) -> S:
        raise NotImplementedError

    @property
    def server(self) -> S:
        if self._running is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._running[0]

    @property
    def port(self) -> int:
        """The port the server listens on (after :meth:`start`)."""
        return int(self.server.server_address[1])  # type: ignore[index]

    def start(self) -> Self:
        if self._running is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        server = self._make_server()
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self._running = (server, thread)
        return self

    def stop(self) -> None:
        if self._running is None:
            return
        server, thread = self._running
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        self._running = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
