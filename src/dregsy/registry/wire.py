"""One TCP (or TLS) connection as an asyncio protocol: bytes in, bytes out, with flow
control both ways. Callers bound the waits with `asyncio.timeout`.

Received bytes queue here until read; past `HIGH_WATER` the socket stops being read, so a
slow consumer (a blob streaming into a slower upload) keeps memory bounded.
"""

from __future__ import annotations

import asyncio
import ssl

HAPPY_EYEBALLS = 0.25  # seconds before the next address (IPv6 then IPv4) is tried too
HIGH_WATER = 512 * 1024  # bytes buffered before the socket stops being read


class WireClosedError(ConnectionError):
    """The connection was closed before the expected bytes came."""


class Wire(asyncio.Protocol):
    """The byte stream of one connection (use :func:`open_wire`)."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._eof = False
        self._error: BaseException | None = None
        self._reader: asyncio.Future[None] | None = None
        self._writer: asyncio.Future[None] | None = None
        self._write_paused = False
        self._read_paused = False

    # -- asyncio.Protocol ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport  # asyncio has set TCP_NODELAY already

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) > HIGH_WATER and not self._read_paused and self._transport:
            self._read_paused = True
            self._transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool | None:
        self._eof = True
        self._wake_reader()
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._eof = True
        if exc is not None:
            self._error = exc
        self._wake_reader()
        self._wake_writer()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        self._wake_writer()

    # -- use -------------------------------------------------------------------------
    @property
    def idle_ok(self) -> bool:
        """No bytes and no close arrived while nothing was asked: safe to send on."""
        return not self._buffer and not self._eof and self._transport is not None

    async def read(self) -> bytes:
        """The bytes received so far (waiting for some); b"" once the peer has closed."""
        if not self._buffer and not self._eof:
            loop = asyncio.get_running_loop()
            self._reader = loop.create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            if self._read_paused and self._transport is not None:
                self._read_paused = False
                self._transport.resume_reading()
            return data
        if self._error is not None:
            raise self._error
        return b""

    async def write(self, data: bytes) -> None:
        """Send `data`, waiting while the kernel's and asyncio's buffers are full."""
        transport = self._transport
        if transport is None or transport.is_closing():
            raise self._error or WireClosedError("connection closed")
        transport.write(data)
        if self._write_paused:
            loop = asyncio.get_running_loop()
            self._writer = loop.create_future()
            try:
                await self._writer
            finally:
                self._writer = None
            if self._error is not None:
                raise self._error

    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()
            self._transport = None

    def _wake_reader(self) -> None:
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _wake_writer(self) -> None:
        if self._writer is not None and not self._writer.done():
            self._writer.set_result(None)


async def open_wire(host: str, port: int, *, tls: ssl.SSLContext | None) -> Wire:
    """Connect (and shake hands, for TLS)."""
    loop = asyncio.get_running_loop()
    _, wire = await loop.create_connection(
        Wire,
        host,
        port,
        ssl=tls,
        server_hostname=host if tls is not None else None,
        happy_eyeballs_delay=HAPPY_EYEBALLS,
    )
    return wire
