"""Running the real `dregsy` command as a subprocess, as users do."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stderr.splitlines()


def auth_value(username: str, password: str) -> str:
    """dregsy's `auth`: base64 of `{"username": ..., "password": ...}` with a newline inside."""
    doc = json.dumps({"username": username, "password": password}) + "\n"
    return base64.b64encode(doc.encode()).decode()


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOG_", "DOCKER_"))}
    env.update(extra or {})
    return env


def run(
    config: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> Result:
    """`dregsy -config=CONFIG ARGS...` to completion."""
    argv = [sys.executable, "-m", "dregsy", f"-config={config}", *args]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, env=_env(env), check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


class Daemon:
    """A long-running `dregsy` (periodic tasks), with its stderr in a file to poll."""

    def __init__(
        self,
        config: Path,
        log: Path,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
    ) -> None:
        self.log = log
        self._out = log.open("w")
        argv = [sys.executable, "-m", "dregsy", f"-config={config}", *args]
        self.process = subprocess.Popen(
            argv, stdout=self._out, stderr=subprocess.STDOUT, env=_env(env)
        )

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, needle: str, *, count: int = 1, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.text().count(needle) >= count:
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} x{count} not seen in dregsy's log:\n{self.text()}")

    def endpoint(self, timeout: float = 30) -> str:
        """The base URL of the HTTP endpoint (`-listen=127.0.0.1:0`), from the log."""
        self.wait_for("serving metrics and status at http://", timeout=timeout)
        match = re.search(r"serving metrics and status at (http://\S+?/)(?:,|$)", self.text(), re.M)
        assert match is not None, self.text()
        return match[1]

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM; returns the exit status (fails the test if it takes longer than timeout)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._out.close()
