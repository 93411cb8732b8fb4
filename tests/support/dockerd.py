"""A real Docker daemon (``dockerd``) for the Docker relay's tests, on a private socket.

It runs with the vfs storage driver and without touching the host's networking
(``--iptables=false --ip-masq=false --ip-forward=false --bridge=none``), with its socket,
data root and pidfile in its work directory. The exec root holds UNIX sockets (containerd's
among them), whose paths must stay under ~108 bytes, so it lives in a short directory under
``/tmp`` instead of the (deep) pytest temp directory. Start to ready takes ~0.2 s (~1.5 s
with the optional plain TCP listener, which dockerd warns about); stopping
takes ~2 s (dockerd stops its own containerd), always by SIGTERM first: a SIGKILL can leave
containerd behind.

Loopback registries (127.0.0.0/8) are insecure registries for dockerd by default, so the
test registries work over plain HTTP without extra flags.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from tests.support.procs import ManagedProcess, require_binary, start_process

DOCKERD_BINARY = "dockerd"
STOP_TIMEOUT = 30.0
"""Seconds to wait after SIGTERM (dockerd needs ~2 s) before the last-resort SIGKILL."""


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a UNIX socket (the daemon's API), for the fixture's own checks."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("docker", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(str(self._path))
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _mounts_under(root: Path) -> list[Path]:
    """Mount points below *root*, deepest first (from ``/proc/self/mountinfo``)."""
    found: list[Path] = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) > 4:
            # octal escapes (\040 for a space) as the kernel writes them
            mount_point = Path(fields[4].encode().decode("unicode_escape"))
            if mount_point.is_relative_to(root) and mount_point != root:
                found.append(mount_point)
    return sorted(found, key=lambda path: len(path.parts), reverse=True)


def _free_port() -> int:
    """A loopback port that was free a moment ago (a small race, fine for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class DockerDaemon:
    """One ``dockerd`` process with its own socket, data root, exec root and pidfile."""

    def __init__(self, workdir: Path, *, tcp: bool = False) -> None:
        self.workdir = workdir
        self.tcp_port: int | None = _free_port() if tcp else None
        self._process: ManagedProcess | None = None
        self._exec_root: Path | None = None

    @property
    def socket_path(self) -> Path:
        return self.workdir / "docker.sock"

    @property
    def host(self) -> str:
        """The daemon's address as dregsy's ``dockerhost`` takes it: ``unix://<socket>``."""
        return f"unix://{self.socket_path}"

    @property
    def tcp_host(self) -> str:
        """``tcp://127.0.0.1:<port>`` (plain, as a Docker-in-Docker sidecar serves it)."""
        assert self.tcp_port is not None, "started without tcp=True"
        return f"tcp://127.0.0.1:{self.tcp_port}"

    @property
    def log(self) -> Path:
        return self.workdir / "dockerd.stderr.log"

    def start(self, timeout: float = 30.0) -> DockerDaemon:
        binary = require_binary(DOCKERD_BINARY)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._exec_root = Path(tempfile.mkdtemp(prefix="dregsy-dockerd-", dir="/tmp"))
        argv = [
            binary,
            "--storage-driver=vfs",
            "--iptables=false",
            "--ip-masq=false",
            "--ip-forward=false",
            "--bridge=none",
            "--host",
            self.host,
            "--data-root",
            str(self.workdir / "root"),
            "--exec-root",
            str(self._exec_root),
            "--pidfile",
            str(self.workdir / "docker.pid"),
        ]
        if self.tcp_port is not None:
            argv += ["--host", self.tcp_host]
        self._process = start_process(argv, self.workdir, name="dockerd")
        try:
            self._process.wait_ready(self._ready, timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM, wait (~2 s), then unmount what is left in the exec root and remove it.

        Containers with ``--network host`` leave ``<exec root>/netns/default`` mounted (an
        nsfs bind mount) after the daemon exits; it is unmounted before the removal.
        """
        if self._process is not None:
            self._process.stop(timeout=STOP_TIMEOUT)
            self._process = None
        if self._exec_root is not None:
            for mount_point in _mounts_under(self._exec_root):
                subprocess.run(["umount", str(mount_point)], check=False, capture_output=True)
            shutil.rmtree(self._exec_root, ignore_errors=True)
            self._exec_root = None

    def __enter__(self) -> DockerDaemon:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_tail(self, lines: int = 30) -> str:
        return self._process.log_tail(lines) if self._process is not None else ""

    def request(self, method: str, path: str, timeout: float = 30.0) -> tuple[int, bytes]:
        """One Engine API request (unversioned path, e.g. ``/images/json``)."""
        conn = _UnixConnection(self.socket_path, timeout)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def _ready(self) -> bool:
        try:
            status, body = self.request("GET", "/_ping", timeout=1.0)
        except OSError:
            return False
        return status == 200 and body == b"OK"

    def images(self) -> list[dict[str, Any]]:
        """``GET /images/json``: the daemon's images (RepoTags, Id, ...)."""
        status, body = self.request("GET", "/images/json")
        assert status == 200, body
        images: list[dict[str, Any]] = json.loads(body)
        return images

    def repo_tags(self) -> list[str]:
        """Every ``repo:tag`` the daemon holds, sorted."""
        return sorted(tag for image in self.images() for tag in image.get("RepoTags") or () if tag)

    def info(self) -> dict[str, Any]:
        status, body = self.request("GET", "/info")
        assert status == 200, body
        info: dict[str, Any] = json.loads(body)
        return info

    def remove_all_images(self) -> None:
        """Force-remove every image, so the next test starts with an empty daemon."""
        for image in self.images():
            status, body = self.request("DELETE", f"/images/{quote(image['Id'])}?force=true")
            assert status in (200, 404), body
