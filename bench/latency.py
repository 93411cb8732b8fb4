"""A latency proxy: a TCP forwarder on loopback that delays every chunk, each way.

The kernel's netem qdisc is not available on these machines, so W5 puts one of these in
front of each registry. Each chunk read from one side is written to the other side
`one_way` seconds after it was read; chunks are pipelined (a chunk's delay does not wait
for the one before it to be written), so the proxy adds latency, not a bandwidth limit.
A request and its response therefore cross `2 * one_way` more than on loopback: the round
trip the README states (default 20 ms, 10 ms each way).

It runs its own event loop in a thread of the benchmark process: `with LatencyProxy(...)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

CHUNK = 64 * 1024
# Chunks in flight per direction before the reader stops reading (back-pressure): enough
# for 20 ms of a fast loopback stream, bounded so a slow writer does not buffer a layer.
IN_FLIGHT = 256


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, one_way: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(IN_FLIGHT)

    async def deliver() -> None:
        while True:
            due, chunk = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.create_task(deliver())
    try:
        while True:
            chunk = await reader.read(CHUNK)
            await queue.put((loop.time() + one_way, chunk))
            if not chunk:
                break
        await sender
    except (ConnectionError, OSError):
        pass
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError, OSError):
            await sender


class LatencyProxy:
    """Forwards 127.0.0.1:<port> to `upstream` (host:port), adding `rtt` seconds per round trip."""

    def __init__(self, upstream: str, rtt: float = 0.020) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._one_way = rtt / 2
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[object]] = set()
        self.port = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _connection(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self._upstream)
        except OSError:
            client_w.close()
            return
        self._open.update((client_w, up_w))
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await asyncio.gather(
                _pipe(client_r, up_w, self._one_way), _pipe(up_r, client_w, self._one_way)
            )
        finally:
            if task is not None:
                self._tasks.discard(task)
            for w in (up_w, client_w):
                self._open.discard(w)
                w.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await w.wait_closed()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()
            server.close()
            # Close open connections too: the next run starts from none.
            for w in list(self._open):
                w.close()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=5)

    def start(self) -> LatencyProxy:
        def run() -> None:
            asyncio.run(self._serve())  # cancels what is left of the connections at the end

        self._thread = threading.Thread(target=run, name=f"latency-{self._upstream[1]}")
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("latency proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)


@contextmanager
def delayed(upstream: str, rtt: float) -> Iterator[LatencyProxy]:
    """A started proxy in front of `upstream` for the block."""
    proxy = LatencyProxy(upstream, rtt).start()
    try:
        yield proxy
    finally:
        proxy.stop()
