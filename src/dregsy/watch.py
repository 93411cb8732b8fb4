"""Watching the config file for changes, Kubernetes ConfigMap symlink swaps included."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from dregsy.clock import Clock

Fingerprint = tuple[str, int, int, int, int] | None


def fingerprint(path: Path) -> Fingerprint:
    """What identifies the file's current content: its resolved path, inode, mtime and size.

    A ConfigMap update swaps the `..data` symlink, which changes the resolved path even
    when mtime and size happen to match.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.realpath(path), st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


async def watch_file(
    path: Path,
    on_change: Callable[[], None],
    *,
    stop: asyncio.Event,
    clock: Clock,
    interval: float = 1.0,
    loaded: Fingerprint | None = None,
) -> None:
    """Poll `path` every `interval` seconds; call `on_change` once a change has settled.

    `loaded` is the file as it was when the running config was read: a change made since
    (while a reload waited for running syncs) is then still seen as a change.
    """
    seen = loaded if loaded is not None else fingerprint(path)
    while not await clock.wait(stop, interval):
        now = fingerprint(path)
        if now == seen:
            continue
        # Let a writer finish: wait until two polls agree.
        while not await clock.wait(stop, interval / 2):
            settled = fingerprint(path)
            if settled == now:
                break
            now = settled
        else:
            return
        seen = now
        on_change()
