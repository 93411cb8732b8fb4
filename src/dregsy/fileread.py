"""Reading small local files (the config, `auth-file`, Docker's `config.json`) safely.

A path may name a FIFO (reading blocks until someone writes), a device such as
`/dev/zero` (never ends) or a huge file: only regular files are read, never more than a
limit, and the open itself does not block (`O_NONBLOCK` has no effect on regular files).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MiB = 1024 * 1024


class FileReadError(OSError):
    """Not a regular file, or larger than the limit; `reason` says which, in a few words."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at `path`; FileReadError if it is not a regular file or
    is larger than `limit` bytes; other OSErrors (FileNotFoundError...) as raised."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileReadError(path, "not a regular file")
        if info.st_size > limit:
            raise FileReadError(path, f"larger than {_size(limit)}")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(limit + 1 - total, MiB))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileReadError(path, f"larger than {_size(limit)}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _size(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit >= MiB else f"{limit // 1024} KiB"


def unreadable_reason(path: Path, limit: int) -> str | None:
    """Why `read_limited(path, limit)` would refuse the file, found with `stat` alone (no
    open, no read); None when it would read it or the file does not exist."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_size > limit:
        return f"larger than {_size(limit)}"
    return None
