"""Managed test processes: start a binary with logs to files, wait until ready, stop by PID.

Every process is started with :class:`subprocess.Popen` on the binary itself (never a
shell), with stdout and stderr written to files in its work directory, so a test failure
can show the end of the log. Stopping sends SIGTERM to that PID, waits, and kills only
after a timeout.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

POLL_INTERVAL = 0.02
"""Seconds between two readiness checks."""


def require_binary(name: str) -> str:
    """Return the path of the executable *name*; skip the test if missing, fail it in CI.

    A missing component must never turn into a silently skipped test in CI, so when the
    environment variable ``CI`` is ``"true"`` a missing binary fails the test.
    """
    path = shutil.which(name)
    if path is not None:
        return path
    message = f"required executable {name!r} not found on PATH"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def tail(path: Path, lines: int = 30) -> str:
    """Return the last *lines* lines of a text file (empty if it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class ProcessError(RuntimeError):
    """A managed process died or did not become ready in time."""


class ManagedProcess:
    """One running child process whose stdout and stderr go to files."""

    def __init__(
        self,
        argv: Sequence[str],
        workdir: Path,
        *,
        name: str,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.name = name
        self.workdir = workdir
        self.stdout_path = workdir / f"{name}.stdout.log"
        self.stderr_path = workdir / f"{name}.stderr.log"
        workdir.mkdir(parents=True, exist_ok=True)
        with (
            self.stdout_path.open("wb") as stdout,
            self.stderr_path.open("wb") as stderr,
        ):
            # The child keeps its own copies of the descriptors; ours close right away.
            self._popen = subprocess.Popen(
                self.argv,
                cwd=workdir,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=dict(env) if env is not None else None,
            )

    @property
    def pid(self) -> int:
        """The PID of the binary itself."""
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit status, or None while the process runs."""
        return self._popen.poll()

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self._popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        """The end of stderr and stdout, for error messages."""
        return (
            f"--- {self.stderr_path.name} ---\n{tail(self.stderr_path, lines)}\n"
            f"--- {self.stdout_path.name} ---\n{tail(self.stdout_path, lines)}"
        )

    def wait_ready(self, ready: Callable[[], bool], timeout: float = 10.0) -> None:
        """Call *ready* every ~20 ms until it returns True.

        Raise :class:`ProcessError` with the log tail if the process exits first or the
        timeout passes. *ready* must return False (not raise) while the process is not
        ready yet.
        """
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise ProcessError(
                    f"{self.name} (pid {self.pid}) exited with status {self.returncode} "
                    f"before it was ready: {self.argv}\n{self.log_tail()}"
                )
            if ready():
                return
            if time.monotonic() > deadline:
                raise ProcessError(
                    f"{self.name} (pid {self.pid}) not ready after {timeout} s\n{self.log_tail()}"
                )
            time.sleep(POLL_INTERVAL)

    def stop(self, timeout: float = 10.0) -> int:
        """Send SIGTERM to the PID, wait, and SIGKILL only after *timeout*; return the status."""
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            try:
                return self._popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
        return self._popen.wait()


def start_process(
    argv: Sequence[str],
    workdir: Path,
    *,
    name: str,
    env: Mapping[str, str] | None = None,
) -> ManagedProcess:
    """Start *argv* in *workdir* with logs ``<name>.stdout.log`` and ``<name>.stderr.log``."""
    return ManagedProcess(argv, workdir, name=name, env=env)
