"""`python peak_rss.py OUT CMD...`: run CMD, write its peak resident set size (KiB) to OUT,
exit with its status. SIGTERM and SIGINT are passed on to CMD.

The measuring is done from this small process because a child forked straight from a large
one (pytest, after many tests) starts with that one's resident size as its peak: Linux keeps
the high-water mark of the image a process had before `exec`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def main() -> int:
    out, argv = Path(sys.argv[1]), sys.argv[2:]
    child = subprocess.Popen(argv)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: child.send_signal(number))
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    out.write_text(str(usage.ru_maxrss))
    code = child.returncode
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
