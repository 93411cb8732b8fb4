"""moto's standalone AWS server (``moto_server``) on loopback, for the ECR API.

It binds ``127.0.0.1:0`` and reads its port from the ``Running on http://127.0.0.1:PORT``
line. :meth:`MotoServer.env` gives the environment that points boto3 at it: the standard
``AWS_ENDPOINT_URL`` plus fake keys, with the instance-metadata lookup turned off so
nothing ever asks 169.254.169.254.
"""

from __future__ import annotations

import re
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from tests.support.procs import ManagedProcess, require_binary, start_process

_RUNNING = re.compile(r"Running on http://127\.0\.0\.1:(\d+)")
FAKE_ACCOUNT = "123456789012"  # moto's default account
ECR_HOST = f"{FAKE_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
ECR_PASSWORD = f"{FAKE_ACCOUNT}-auth-token"  # what moto's GetAuthorizationToken issues
ECR_USER = "AWS"


def moto_binary() -> str:
    """``moto_server`` next to this Python (the venv), else on PATH."""
    local = Path(sys.executable).parent / "moto_server"
    return str(local) if local.exists() else require_binary("moto_server")


def no_aws_environment() -> dict[str, str]:
    """Variables that keep boto3 away from real AWS: no files, no instance metadata."""
    return {
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    }


class MotoServer:
    """One ``moto_server`` process; stop it by PID."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._process: ManagedProcess | None = None
        self.port = 0

    def start(self, timeout: float = 30.0) -> MotoServer:
        self._process = start_process(
            [moto_binary(), "-H", "127.0.0.1", "-p", "0"], self.workdir, name="moto"
        )
        self._process.wait_ready(self._ready, timeout)
        return self

    def _ready(self) -> bool:
        assert self._process is not None
        if not self.port:
            text = self._process.stdout_path.read_text(errors="replace")
            text += self._process.stderr_path.read_text(errors="replace")
            found = _RUNNING.search(text)
            if found is None:
                return False
            self.port = int(found.group(1))
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):  # noqa: S310
                return True
        except (OSError, urllib.error.URLError):
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment for a boto3 user (dregsy, or this test process)."""
        return {
            **no_aws_environment(),
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
