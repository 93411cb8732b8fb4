"""A `docker-credential-<name>` program for tests, written into a directory for PATH.

It follows the credential-helper protocol: `get` reads the server URL on stdin and prints
`{"ServerURL", "Username", "Secret"}`, or exits 1 with `credentials not found in native
keychain`. Each call appends `{"argv": [...], "stdin": "..."}` to `<dir>/<name>.calls`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path

_SCRIPT = """#!{python}
import json, sys
calls, known = {calls!r}, {known!r}
url = sys.stdin.read()
with open(calls, "a") as log:
    log.write(json.dumps({{"argv": sys.argv[1:], "stdin": url}}) + "\\n")
if sys.argv[1:] != ["get"]:
    print("unsupported"); sys.exit(2)
if {fail!r}:
    print("the keychain is locked"); sys.exit(3)
if url not in known:
    print("credentials not found in native keychain"); sys.exit(1)
user, secret = known[url]
print(json.dumps({{"ServerURL": url, "Username": user, "Secret": secret}}))
"""


def write_helper(
    directory: Path,
    name: str,
    known: Mapping[str, tuple[str, str]],
    *,
    fail: bool = False,
) -> Path:
    """Write `directory/docker-credential-<name>`; `known` maps server URL to (user, secret)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"docker-credential-{name}"
    calls = directory / f"{name}.calls"
    path.write_text(
        _SCRIPT.format(python=sys.executable, calls=str(calls), known=dict(known), fail=fail)
    )
    path.chmod(0o755)
    return path


def helper_calls(directory: Path, name: str) -> list[dict[str, object]]:
    """The calls the helper recorded, oldest first."""
    path = directory / f"{name}.calls"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
