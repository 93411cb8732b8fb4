"""Docker credential helpers: `docker-credential-<name> get`, the server URL on stdin.

The protocol (github.com/docker/docker-credential-helpers): the helper reads the server URL
on stdin and prints `{"ServerURL": ..., "Username": ..., "Secret": ...}`; it exits non-zero
with `credentials not found in native keychain` when it has nothing. Secrets never go into
argv (visible in `ps`) nor into messages: errors quote only the helper's first output line.
"""

from __future__ import annotations

import asyncio
import re
import shutil

from msgspec import Struct

from dregsy import jsontext
from dregsy.credentials import Credentials
from dregsy.errors import CredentialError

HELPER_PREFIX = "docker-credential-"
HELPER_TIMEOUT = 30.0  # seconds a helper may take (a keychain may ask the user to unlock)
MAX_HELPER_OUTPUT = 64 * 1024
NOT_FOUND = "credentials not found"
IDENTITY_TOKEN_USER = "<token>"  # Docker's marker for an OAuth identity (refresh) token
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class HelperNotFoundError(CredentialError):
    """The `docker-credential-<name>` program is not on PATH."""


class CredentialHelper(Struct, frozen=True):
    """One `docker-credential-<name>` program, found on `search_path` (None: PATH)."""

    name: str
    search_path: str | None = None

    @property
    def program(self) -> str:
        return HELPER_PREFIX + self.name

    async def get(self, server_url: str) -> Credentials | None:
        """The helper's credentials for `server_url`, or None when it has none."""
        if not _NAME_RE.fullmatch(self.name):
            raise CredentialError(f"invalid credential helper name {self.name!r}")
        binary = shutil.which(self.program, path=self.search_path)
        if binary is None:
            raise HelperNotFoundError(f"credential helper {self.program} is not on PATH")
        try:
            process = await asyncio.create_subprocess_exec(
                binary,
                "get",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise CredentialError(f"cannot run credential helper {binary}: {reason}") from None
        try:
            async with asyncio.timeout(HELPER_TIMEOUT):
                stdout, stderr = await process.communicate(server_url.encode())
        except TimeoutError:
            raise CredentialError(
                f"credential helper {self.program} gave no answer within {HELPER_TIMEOUT:.0f} s"
            ) from None
        finally:
            if process.returncode is None:  # timed out, or dregsy is stopping
                process.kill()
                await process.wait()
        if process.returncode != 0:
            said = _first_line(stdout) or _first_line(stderr)
            if NOT_FOUND in said.lower():
                return None
            raise CredentialError(
                f"credential helper {self.program} failed for {server_url} "
                f"(exit status {process.returncode}): {said or 'no message'}"
            )
        return self._parse(stdout, server_url)

    def _parse(self, stdout: bytes, server_url: str) -> Credentials:
        where = f"credential helper {self.program} for {server_url}"
        if len(stdout) > MAX_HELPER_OUTPUT:
            raise CredentialError(f"{where}: answer larger than 64 KiB")
        try:
            doc = jsontext.loads(stdout)
        except jsontext.JSONError:
            raise CredentialError(f"{where}: answer is not JSON") from None
        if not isinstance(doc, dict):
            raise CredentialError(f"{where}: answer is not a JSON object")
        username, secret = doc.get("Username"), doc.get("Secret")
        if not isinstance(username, str) or not isinstance(secret, str) or not username:
            raise CredentialError(f"{where}: answer lacks Username or Secret")
        if username == IDENTITY_TOKEN_USER:
            raise CredentialError(
                f"{where}: answered with an identity token, which dregsy cannot use; "
                "give `auth` for this registry"
            )
        return Credentials(username, secret)


def _first_line(output: bytes) -> str:
    text = output.decode("utf-8", errors="replace").strip()
    line = text.splitlines()[0] if text else ""
    return line if len(line) <= 200 else line[:200] + "…"
