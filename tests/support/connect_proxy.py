"""A CONNECT proxy on loopback that tunnels every request to one local address.

Tests use it to reach registries under their real names (an ECR or GCR host name, with a
certificate for it) without DNS or any traffic off this machine: dregsy runs with
``HTTPS_PROXY`` pointing here, asks for ``CONNECT gcr.io:443``, and gets a tunnel to the
local TLS registry. ``targets`` records the ``host:port`` of every CONNECT.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading

from tests.support.serving import BackgroundServer

_CHUNK = 65536


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(4096)
            if not data or len(head) > 16384:
                return
            head += data
        method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        with self.server.lock:
            self.server.targets.append(target)
        upstream = socket.create_connection(self.server.upstream, timeout=30)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        rest = head.split(b"\r\n\r\n", 1)[1]
        if rest:
            upstream.sendall(rest)
        pump = threading.Thread(target=_copy, args=(upstream, client), daemon=True)
        pump.start()
        _copy(client, upstream)
        pump.join(timeout=30)
        upstream.close()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(_CHUNK):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream: tuple[str, int]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream
        self.targets: list[str] = []
        self.lock = threading.Lock()


class ConnectProxy(BackgroundServer[_Server]):
    """``with ConnectProxy(("127.0.0.1", port)) as proxy:`` … ``proxy.url``."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        super().__init__()
        self._upstream = upstream

    def _make_server(self) -> _Server:
        return _Server(self._upstream)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def targets(self) -> list[str]:
        with self.server.lock:
            return list(self.server.targets)
