"""Private directories for files that hold secrets (skopeo's auth files), per process.

Each dregsy process keeps its directories under `<tmp>/dregsy-<uid>/run-<pid>/` (the parent
0700, owned by us, never a symlink). A process killed outright (SIGKILL, OOM) cannot remove
its own; the next one to start removes those of processes that no longer run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

from dregsy.errors import RelayUnavailableError

log = logging.getLogger(__name__)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class PrivateDirs:
    """Creates per-copy private directories; `prepare` first, `close` at the end."""

    def __init__(self, root: Path | None = None) -> None:
        self._root = root or Path(tempfile.gettempdir()) / f"dregsy-{os.getuid()}"
        self._mine = self._root / f"run-{os.getpid()}"

    def prepare(self) -> None:
        """Make the root (or check it), and remove what dead processes left in it."""
        self._ensure_root()
        for entry in self._root.iterdir():
            pid = entry.name.removeprefix("run-")
            if entry.name.startswith("run-") and pid.isdigit() and not _alive(int(pid)):
                log.info("removing %s, left by a dregsy process that was killed", entry)
                shutil.rmtree(entry, ignore_errors=True)

    def _ensure_root(self) -> None:
        try:
            self._root.mkdir(mode=0o700, exist_ok=True)
            info = os.lstat(self._root)
        except OSError as exc:
            raise RelayUnavailableError(f"cannot create {self._root}: {exc.strerror}") from exc
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
            raise RelayUnavailableError(
                f"{self._root} must be a directory of mode 0700 owned by this user"
            )

    def new(self, prefix: str) -> tempfile.TemporaryDirectory[str]:
        """A fresh private directory (mode 0700), removed when its `with` block ends."""
        self._ensure_root()  # checked each time: another process may have removed it
        self._mine.mkdir(mode=0o700, exist_ok=True)
        return tempfile.TemporaryDirectory(prefix=prefix, dir=self._mine)

    def close(self) -> None:
        """Remove this process's directory, and the root if no other process uses it."""
        shutil.rmtree(self._mine, ignore_errors=True)
        with contextlib.suppress(OSError):  # not empty: another dregsy runs
            self._root.rmdir()
