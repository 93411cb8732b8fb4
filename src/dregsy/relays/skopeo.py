"""The skopeo relay: one `skopeo copy` per image, as dregsy 0.5 does, with credentials kept private.

Tag listing and the unchanged-check stay with the runner (registry API); this relay only
moves an image. The source is copied by the digest the unchanged-check saw, so what lands
is what was checked. Each copy gets a private directory (mode 0700) holding auth files
(mode 0600) for the sides that have credentials; it is removed when the copy ends, and the
skopeo child is killed if the copy is cancelled. If dregsy itself is killed (SIGKILL), skopeo
dies with it (`setpriv --pdeathsig KILL`) and the next start removes the directory left
behind (`dregsy.relays.privatedir`). `--preserve-digests` keeps skopeo's shared
blob-info cache from swapping in differently compressed blobs (skopeo 1.9.3 has no option
to move that cache). See `dregsy.relays.skopeoargs` for the command line itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import shutil
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from dregsy.config.types import Location, SkopeoSettings
from dregsy.credentials import Credentials
from dregsy.errors import RelayError, RelayUnavailableError
from dregsy.manifest import Platform
from dregsy.platform import normalize, parse_platform
from dregsy.registry.directory import RegistryDirectory
from dregsy.relays.base import CopyOutcome, ImageJob, Relay
from dregsy.relays.locks import KeyedLocks
from dregsy.relays.privatedir import PrivateDirs
from dregsy.relays.skopeoargs import (
    Access,
    Side,
    auth_document,
    cert_dir_for,
    copy_argv,
    failure_message,
    message_of,
    redact,
    secrets_of,
    tls_verify,
)

log = logging.getLogger(__name__)

RETRY_TIMES = 3  # skopeo's own retries of a copy on network errors (1 s, 2 s, 4 s apart)
PROBE_TIMEOUT = 30.0  # seconds for `skopeo --version` and `skopeo copy --help`
STDERR_TAIL = 20  # lines of stderr kept for the error message
LINE_LIMIT = 1 << 20  # longest output line read from skopeo
REQUIRED_FLAGS = ("--preserve-digests", "--retry-times", "--src-no-creds", "--src-authfile")


class SkopeoRelay(Relay):
    """Copies each image with `skopeo copy --all --preserve-digests`: digests are kept."""

    name = "skopeo"
    preserves_digests = True
    uses_new_repositories = False
    default_platform = "all"

    def __init__(
        self,
        settings: SkopeoSettings,
        registries: RegistryDirectory | None = None,
        *,
        retry_times: int = RETRY_TIMES,
    ) -> None:
        """With `registries`, credentials come from the shared credential sources (ECR and
        Google tokens, Docker's config.json and helpers); without, from `auth` alone."""
        self._settings = settings
        self._registries = registries
        self._binary = settings.binary
        self._retry_times = retry_times
        self._locks = KeyedLocks()
        self._private = PrivateDirs()
        # Where available, skopeo is started through setpriv so that it dies with dregsy.
        setpriv = shutil.which("setpriv")
        self._wrapper = [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []

    async def prepare(self) -> None:
        """Check that the binary runs and knows the flags this relay uses; clean up what a
        killed dregsy left behind."""
        await asyncio.to_thread(self._private.prepare)
        version = (await self._probe("--version")).strip() or "unknown version"
        usage = await self._probe("copy", "--help")
        missing = [flag for flag in REQUIRED_FLAGS if flag not in usage]
        if missing:
            raise RelayUnavailableError(
                f"skopeo relay: {self._binary} ({version}) does not know "
                f"{', '.join(missing)}; skopeo 1.9 or newer is needed"
            )
        where = shutil.which(self._binary) or self._binary
        log.info("skopeo relay: %s (%s)", version, where)

    def new_run(self) -> object:
        return None

    async def copy(self, job: ImageJob, run: object) -> CopyOutcome:
        if job.rebuilt:
            raise RelayError(
                "the skopeo relay cannot push a platform subset (`platforms`); use the native relay"
            )
        # Several tags of one image (`1.36`, `1.36.0`, `latest`) into one repository go one
        # after another: parallel skopeo processes pushing the same blobs into a new
        # repository make the distribution registry answer 500 to their blob checks.
        async with self._locks.hold(f"{job.target.repository}@{job.digest}"):
            return await self._copy(job)

    async def _copy(self, job: ImageJob) -> CopyOutcome:
        platform = _platform(job.platform)
        src_creds = await self._credentials(job.source_location)
        dest_creds = await self._credentials(job.target_location)
        private_dir = await asyncio.to_thread(self._private.new, "skopeo-")
        with private_dir as private:
            argv = copy_argv(
                self._binary,
                job.source.repository.digest(job.digest),
                job.target,
                self._access("src", job.source_location, src_creds, Path(private)),
                self._access("dest", job.target_location, dest_creds, Path(private)),
                platform=platform,
                retry_times=self._retry_times,
            )
            await self._run(argv, job, secrets_of(src_creds, dest_creds))
        return CopyOutcome()

    async def aclose(self) -> None:
        self._private.close()

    async def _credentials(self, location: Location) -> Credentials | None:
        if location.anonymous:
            return None
        if self._registries is None:
            return location.credentials
        return await self._registries.credentials(location)

    def _access(
        self, side: Side, location: Location, credentials: Credentials | None, private: Path
    ) -> Access:
        cert_dir = cert_dir_for(self._settings.certs_dir, location.registry)
        auth_file = None
        if credentials is not None:
            auth_file = private / f"{side}-auth.json"
            _write_private(auth_file, json.dumps(auth_document(location.registry, credentials)))
        return Access(
            side=side,
            tls_verify=tls_verify(location),
            cert_dir=cert_dir if cert_dir.is_dir() else None,
            auth_file=auth_file,
            no_creds=location.anonymous,
        )

    async def _run(self, argv: Sequence[str], job: ImageJob, secrets: Sequence[str]) -> None:
        """Run one copy, logging its output; a failure raises with the end of stderr."""
        log.debug("%s: running %s", job.target, shlex.join(argv))
        try:
            process = await asyncio.create_subprocess_exec(
                *self._wrapper,
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                limit=LINE_LIMIT,
                start_new_session=True,  # Ctrl-C stops dregsy gracefully, not skopeo at once
            )
        except OSError as exc:
            raise RelayUnavailableError(f"cannot run skopeo ({self._binary}): {exc}") from exc
        tail: deque[str] = deque(maxlen=STDERR_TAIL)
        try:
            await asyncio.gather(
                _pump(process.stdout, job, secrets, None),
                _pump(process.stderr, job, secrets, tail),
            )
            status = await process.wait()
        finally:
            if process.returncode is None:  # cancelled: the copy must not go on behind us
                process.kill()
                await process.wait()
        if status != 0:
            raise RelayError(f"skopeo: {redact(failure_message(status, tail), secrets)}")

    async def _probe(self, *args: str) -> str:
        """stdout of `skopeo ARGS`; RelayUnavailableError if it cannot run or fails."""
        try:
            process = await asyncio.create_subprocess_exec(
                self._binary,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError as exc:
            raise RelayUnavailableError(
                f"skopeo relay: binary {self._binary!r} not found "
                "(install skopeo, or set skopeo.binary)"
            ) from exc
        except OSError as exc:
            raise RelayUnavailableError(
                f"skopeo relay: cannot run {self._binary!r}: {exc.strerror or exc}"
            ) from exc
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), PROBE_TIMEOUT)
        except TimeoutError as exc:
            raise RelayUnavailableError(
                f"skopeo relay: `{self._binary} {' '.join(args)}` did not answer "
                f"within {PROBE_TIMEOUT:.0f} s"
            ) from exc
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        if process.returncode != 0:
            lines = stderr.decode(errors="replace").splitlines()
            raise RelayUnavailableError(
                f"skopeo relay: `{self._binary} {' '.join(args)}` failed: "
                f"{failure_message(process.returncode or 0, lines)}"
            )
        return stdout.decode(errors="replace")


def _platform(text: str | None) -> Platform | None:
    """None for the whole index (`all` or no `platform`), else the platform to pick, as
    containerd normalises it (`linux/arm64/v8` is `linux/arm64`, `linux/arm` is
    `linux/arm/v7`). The image copied is the one the unchanged-check picked by digest; the
    `--override-*` flags only keep skopeo from looking for the host's platform."""
    if text is None or text == "all":
        return None
    try:
        return normalize(parse_platform(text))
    except ValueError as exc:
        raise RelayError(str(exc)) from exc


def _write_private(path: Path, text: str) -> None:
    """Create `path` readable by its owner only (never a pre-existing file)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(text)


async def _pump(
    stream: asyncio.StreamReader | None,
    job: ImageJob,
    secrets: Sequence[str],
    tail: deque[str] | None,
) -> None:
    """Log each line of skopeo's output at the job's detail level; keep stderr's tail."""
    if stream is None:
        return
    async for raw in stream:
        line = redact(raw.decode(errors="replace").rstrip(), secrets)
        if not line:
            continue
        if tail is not None:
            tail.append(line)
        log.log(job.detail_level, "%s: skopeo: %s", job.target, message_of(line))
