"""Headless Chromium (Debian's `chromium`): a page's DOM after it rendered, and a screenshot.

Each call uses a new empty profile directory and no network beyond the page itself
(no QUIC, no background, component or sync traffic).
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

CHROMIUM = "chromium"
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _run(binary: str, *args: str, timeout: float = 60) -> str:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        done = subprocess.run(
            [binary, *_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        raise AssertionError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def dump_dom(binary: str, url: str) -> str:
    """The page's DOM, serialised after it loaded."""
    return _run(binary, "--dump-dom", url)


def screenshot(binary: str, url: str, path: Path, *, width: int = 1200, height: int = 900) -> Path:
    """A PNG of the page at `width` x `height`."""
    _run(binary, f"--window-size={width},{height}", f"--screenshot={path}", url)
    assert path.read_bytes().startswith(b"\x89PNG"), f"no PNG at {path}"
    return path
