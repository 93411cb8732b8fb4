"""The `dregsy` command's entry point: imports the command line with collection paused.

Start-up makes tens of thousands of objects that live as long as the process (modules,
classes, functions, compiled patterns). The cyclic garbage collector runs many times while
they are made and frees none of them: about 14 ms of CPU, 6% of a short no-op run. So the
collector is paused while `dregsy.cli` and what it needs are imported; then those objects
are frozen (left out of every later collection, which also makes a daemon's full
collections cheaper) and collection resumes as normal. Nothing else changes.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import NoReturn


def load_cli() -> Callable[[], NoReturn]:
    """`dregsy.cli.run`, imported with the collector paused; collection is on again after,
    whatever happened."""
    gc.disable()
    try:
        from dregsy.cli import run as run_cli
    finally:
        gc.freeze()
        gc.enable()
    return run_cli


def run() -> NoReturn:
    """The `dregsy` command (`dregsy.cli.run`)."""
    load_cli()()
