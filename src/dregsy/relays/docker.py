"""The Docker relay: pull, tag and push through a Docker daemon (dregsy's original way).

For each image: pull `source` with the source credentials (the mapping's `platform`, else
the daemon's default, picks one image from a multi-platform source), tag it as `target`,
push with the target credentials, then remove both tags from the daemon (unless
`docker: {keep-images: true}`), so the relay's disk does not fill up. The daemon rewrites
what it pushes (Docker schema 2, recompressed layers, a new manifest digest); the image
config digest survives, and the shared unchanged-check compares that (`preserves_digests`
is False, `default_platform` is read from the daemon in `prepare`).

Copies of the same source reference are serialised: the daemon has one local tag for it,
and a parallel copy with another platform, or a clean-up, would pull the rug from under it.
Engine API details (and why not the `docker` SDK) are in `dregsy.relays.dockerapi`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping

import httpx
from msgspec import Struct, field

from dregsy.config.types import Config, DockerSettings, Location
from dregsy.credentials import Credentials
from dregsy.errors import ConfigProblem, RelayError, RelayUnavailableError
from dregsy.reference import Reference, Registry
from dregsy.registry.directory import RegistryDirectory
from dregsy.relays.base import CopyOutcome, ImageJob, Relay
from dregsy.relays.dockerapi import (
    PLATFORM_API_VERSION,
    DaemonError,
    EngineClient,
    Message,
    format_api_version,
    parse_api_version,
    registry_auth,
    resolve_host,
)
from dregsy.relays.locks import KeyedLocks

DOCKER_HUB_AUTH_SERVER = "https://index.docker.io/v1/"  # what the Docker CLI sends for Hub

log = logging.getLogger(__name__)

CLEANUP_TIMEOUT = 3.0  # seconds a copy's clean-up may take once the copy is over


def config_problems(config: Config, environ: Mapping[str, str]) -> list[ConfigProblem]:
    """What the Docker relay cannot do with this config, found before anything starts."""
    problems = []
    settings = config.docker
    try:
        resolve_host(settings.host, environ)
    except ValueError as exc:
        problems.append(
            ConfigProblem("dockerhost", str(exc))
            if settings.host
            else ConfigProblem("", f"DOCKER_HOST: {exc}")
        )
    if settings.api_version is not None:
        try:
            parse_api_version(settings.api_version)
        except ValueError as exc:
            problems.append(ConfigProblem("api-version", str(exc)))
    return problems


def daemon_name(ref: Reference) -> str:
    """How the daemon names a repository: `host[:port]/path` (Docker Hub: `docker.io/...`)."""
    return f"{ref.repository.registry.host}/{ref.repository.path}"


def daemon_ref(ref: Reference) -> str:
    """`host[:port]/path:tag`, or `...@digest` for a digest-only reference."""
    if ref.tag is not None:
        return f"{daemon_name(ref)}:{ref.tag}"
    return f"{daemon_name(ref)}@{ref.identifier}"


def auth_server(registry: Registry) -> str:
    return DOCKER_HUB_AUTH_SERVER if registry.is_docker_hub else registry.host


def scrub(text: str, credentials: tuple[Credentials | None, ...], *headers: str) -> str:
    """`text` with any password or auth header it might echo replaced by `***`."""
    secrets = [c.password for c in credentials if c is not None and c.password]
    for secret in sorted({*secrets, *headers}, key=len, reverse=True):
        if len(secret) >= 3:  # shorter ones would mangle the text more than they hide
            text = text.replace(secret, "***")
    return text


class ProgressLog(Struct):
    """Logs a daemon progress stream once per (layer, status), and tallies what moved."""

    what: str  # "pull 127.0.0.1:5000/demo/app:v1"
    level: int
    seen: set[tuple[str, str]] = field(default_factory=set)
    downloaded: dict[str, int] = field(default_factory=dict)  # layer id -> compressed size
    pushed: set[str] = field(default_factory=set)

    def __call__(self, message: Message) -> None:
        status = str(message.get("status") or "")
        layer = str(message.get("id") or "")
        detail = message.get("progressDetail")
        if status == "Downloading" and isinstance(detail, dict):
            total = detail.get("total")
            if isinstance(total, int) and total > 0:
                self.downloaded[layer] = total
        elif status == "Pushed" and layer:
            self.pushed.add(layer)
        if not status or (layer, status) in self.seen:
            return
        self.seen.add((layer, status))
        log.log(self.level, "%s: %s%s", self.what, f"{layer}: " if layer else "", status)


class DockerRelay(Relay):
    """Moves images through a Docker daemon's pull, tag and push."""

    name = "docker"
    preserves_digests = False
    uses_new_repositories = False
    default_platform = "linux/amd64"  # replaced by the daemon's own in prepare()

    def __init__(
        self,
        settings: DockerSettings,
        registries: RegistryDirectory,
        *,
        ping_attempts: int | None = None,
        ping_interval: float | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._registries = registries  # for credentials; the runner does the registry checks
        self._ping_attempts = max(1, ping_attempts or settings.ping_attempts)
        self._ping_interval = settings.ping_interval if ping_interval is None else ping_interval
        self._environ = os.environ if environ is None else environ
        self._client: EngineClient | None = None
        self._locks = KeyedLocks()

    async def prepare(self) -> None:
        """Wait for the daemon (bounded), settle the API version and the default platform."""
        try:
            host = resolve_host(self._settings.host, self._environ)
            fixed = self._settings.api_version
            version = parse_api_version(fixed) if fixed is not None else None
        except ValueError as exc:
            raise RelayUnavailableError(f"docker relay: {exc}") from None
        if self._client is None:
            self._client = EngineClient(host, api_version=version)
        client = self._client
        await self._wait_for_daemon(client)
        try:
            info = await client.negotiate()
        except (httpx.HTTPError, ValueError, DaemonError) as exc:
            raise RelayUnavailableError(
                f"docker relay: the daemon at {host}: {_describe(exc)}"
            ) from None
        os_name, arch = info.get("Os"), info.get("Arch")
        if isinstance(os_name, str) and isinstance(arch, str) and os_name and arch:
            self.default_platform = f"{os_name}/{arch}"
        assert client.api_version is not None
        log.info(
            "docker relay: daemon at %s, Docker %s, API %s, default platform %s",
            host,
            info.get("Version", "?"),
            format_api_version(client.api_version),
            self.default_platform,
        )

    async def _wait_for_daemon(self, client: EngineClient) -> None:
        attempts, interval = self._ping_attempts, self._ping_interval
        for attempt in range(1, attempts + 1):
            try:
                await client.ping()
                return
            except (httpx.HTTPError, DaemonError) as exc:
                reason = _describe(exc)
            if attempt == attempts:
                break
            log.info(
                "docker relay: daemon at %s not ready (%s); attempt %d of %d, next in %g s",
                client.host,
                reason,
                attempt,
                attempts,
                interval,
            )
            await asyncio.sleep(interval)
        tried = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if attempts > 1:
            tried += f" over {(attempts - 1) * interval:g} s"
        raise RelayUnavailableError(
            f"cannot reach the Docker daemon at {client.host} ({tried}): {reason}"
        )

    def new_run(self) -> object:
        return None

    async def copy(self, job: ImageJob, run: object) -> CopyOutcome:
        client = self._client
        if client is None or client.api_version is None:
            raise RelayUnavailableError("docker relay: copy before prepare")
        if job.target.tag is None:
            raise RelayError(f"{job.target}: the Docker daemon can only push tags")
        if job.rebuilt:
            raise RelayError("the docker relay cannot push a platform subset (`platforms`)")
        if job.platform is not None and client.api_version < PLATFORM_API_VERSION:
            raise RelayError(
                f"platform {job.platform} needs Docker API "
                f"{format_api_version(PLATFORM_API_VERSION)} or newer, "
                f"and {format_api_version(client.api_version)} is in use"
            )
        credentials = (
            await self._credentials(job.source_location),
            await self._credentials(job.target_location),
        )
        source_auth = registry_auth(credentials[0], auth_server(job.source.repository.registry))
        target_auth = registry_auth(credentials[1], auth_server(job.target.repository.registry))
        # The daemon has one local name per reference: hold both this copy's names (in a
        # fixed order), so another task's pull, tag or clean-up of either cannot interleave.
        try:
            async with contextlib.AsyncExitStack() as held:
                for name in sorted({daemon_ref(job.source), daemon_ref(job.target)}):
                    await held.enter_async_context(self._locks.hold(name))
                return await self._copy(client, job, source_auth, target_auth)
        except DaemonError as exc:
            message = scrub(str(exc), credentials, source_auth, target_auth)
            raise RelayError(message) from None
        except httpx.HTTPError as exc:
            raise RelayError(f"lost the Docker daemon at {client.host}: {_describe(exc)}") from None

    async def _credentials(self, location: Location) -> Credentials | None:
        """What the daemon gets for `location`: from the shared credential sources (inline
        `auth`, ECR and Google tokens, Docker's config.json and helpers)."""
        if location.anonymous:
            return None
        return await self._registries.credentials(location)

    async def _copy(
        self, client: EngineClient, job: ImageJob, source_auth: str, target_auth: str
    ) -> CopyOutcome:
        source, target = daemon_ref(job.source), daemon_ref(job.target)
        target_repo, target_tag = daemon_name(job.target), job.target.tag
        assert target_tag is not None
        pull_log = ProgressLog(f"pull {source}", job.detail_level)
        push_log = ProgressLog(f"push {target}", job.detail_level)
        # Remove afterwards what this copy made: the target tag, and the source tag unless
        # the daemon had it before (the host's own `nginx:latest` stays).
        made = [] if await client.exists(source) else [source]
        step, subject = "pull", source
        try:
            await client.pull(
                daemon_name(job.source),
                job.source.identifier,
                platform=job.platform,
                auth=source_auth,
                on_message=pull_log,
            )
            step = "tag"
            await client.tag(source, target_repo, target_tag)
            made.append(target)
            step, subject = "push", target
            await client.push(target_repo, target_tag, auth=target_auth, on_message=push_log)
        except DaemonError as exc:
            raise DaemonError(f"{step} {subject}: {exc}", exc.status) from None
        finally:
            # After a push, a daemon error, a lost connection or a cancellation alike.
            await self._clean_up(client, made)
        return CopyOutcome(bytes=sum(pull_log.downloaded.values()), blobs=len(push_log.pushed))

    async def _clean_up(self, client: EngineClient, names: list[str]) -> None:
        """`_remove`, shielded from a cancelled copy and bounded in time (SIGTERM)."""
        removal = asyncio.ensure_future(self._remove(client, names))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(removal), CLEANUP_TIMEOUT)

    async def _remove(self, client: EngineClient, names: list[str]) -> None:
        """Remove what this copy pulled and tagged (target tag first), unless kept."""
        if self._settings.keep_images:
            return
        for name in reversed(names):
            try:
                removed = await client.remove(name)
            except (httpx.HTTPError, DaemonError) as exc:
                log.warning("docker relay: could not remove %s: %s", name, _describe(exc))
                continue
            if removed:
                log.debug("docker relay: removed %s from the daemon", name)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _describe(exc: BaseException) -> str:
    """A short reason for an exception: its message, or its type when it has none."""
    text = str(exc).strip()
    return text or type(exc).__name__
