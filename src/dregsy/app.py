"""The composition root: builds relay, registry clients and runner for a config, and serves.

`serve` runs the schedule until it ends (only one-off tasks) or `stop` is set, and applies
reload requests: the new config is validated first; if it is invalid the problems are
logged and the running config carries on; if it is valid, running syncs finish and the
schedule restarts with it (one-off tasks run again, as in dregsy).

Every run is reported to the app's listeners (`dregsy.observe`): the status board always,
the run report with `report`, metrics and the HTTP endpoint with `listen` (started before
anything syncs), and whatever the caller adds (the terminal progress). `dry_run` runs each
task once with reads only.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec import Struct, field
from msgspec.structs import replace

from dregsy import __version__
from dregsy.auth.dockerconfig import MAX_DOCKER_CONFIG_BYTES, docker_config_path
from dregsy.auth.select import CredentialSources
from dregsy.clock import Clock, SystemClock
from dregsy.config.types import Config, RelayKind, Task
from dregsy.errors import ConfigError, ConfigProblem
from dregsy.fileread import unreadable_reason
from dregsy.listers.base import HubEndpoints
from dregsy.listers.cache import RepositoryLists
from dregsy.logcontext import current_task
from dregsy.observe.address import ListenAddress
from dregsy.observe.events import Listener, Listeners
from dregsy.observe.results import TaskRun
from dregsy.observe.status import StatusBoard
from dregsy.registry.directory import RegistryDirectory
from dregsy.registry.pool import HttpPool, HttpSettings
from dregsy.registry.proxy import ProxySettings
from dregsy.registry.traffic import RegistryTraffic
from dregsy.relays.base import Relay
from dregsy.relays.capabilities import capability_problems
from dregsy.relays.native import NativeRelay
from dregsy.scheduler import run_schedule
from dregsy.shard import Shard
from dregsy.sync.runner import TaskRunner
from dregsy.watch import Fingerprint, fingerprint, watch_file

if TYPE_CHECKING:
    from dregsy.observe.web import Endpoint

log = logging.getLogger(__name__)

STOP_GRACE = 5.0  # seconds running syncs get after SIGTERM before they are cancelled


class Signals(Struct):
    """Requests from outside: stop the process, or reload the config."""

    stop: asyncio.Event = field(default_factory=asyncio.Event)
    reload: asyncio.Event = field(default_factory=asyncio.Event)


def check_config(config: Config) -> None:
    """Refuse, before anything starts, what the chosen relay cannot do and proxy settings
    that cannot work."""
    ProxySettings.from_environment(os.environ)
    problems = capability_problems(config)
    docker_config = docker_config_path(os.environ)
    reason = docker_config and unreadable_reason(docker_config, MAX_DOCKER_CONFIG_BYTES)
    if docker_config and reason:
        problems.append(
            ConfigProblem("", f"cannot read Docker's config file {docker_config}: {reason}")
        )
    if config.relay is RelayKind.DOCKER:
        from dregsy.relays.docker import config_problems

        problems += config_problems(config, os.environ)
    if problems:
        raise ConfigError(problems)


def build_relay(config: Config, registries: RegistryDirectory) -> Relay:
    """The relay the config chose; each is imported only when used (lean start-up)."""
    check_config(config)
    if config.relay is RelayKind.DOCKER:
        from dregsy.relays.docker import DockerRelay

        return DockerRelay(config.docker, registries)
    if config.relay is RelayKind.SKOPEO:
        from dregsy.relays.skopeo import SkopeoRelay

        return SkopeoRelay(config.skopeo, registries)
    return NativeRelay(
        registries, blob_parallel=config.parallel, stall_timeout=config.stall_timeout
    )


class App:
    """Runs configs and remembers whether any sync failed during the process's life."""

    def __init__(
        self,
        *,
        config_path: Path | None = None,
        clock: Clock | None = None,
        stop_grace: float = STOP_GRACE,
        hub_endpoints: HubEndpoints | None = None,
        now: Callable[[], float] = time.time,
        report: Path | None = None,
        listeners: Sequence[Listener] = (),
        shard: Shard | None = None,
    ) -> None:
        self._config_path = config_path
        self._shard = shard  # None: every repository; kept across reloads
        self._clock = clock or SystemClock()
        self._stop_grace = stop_grace
        self._hub_endpoints = hub_endpoints or HubEndpoints.from_environ(os.environ)
        self._now = now
        self.failed = False
        # Registry requests and pull quotas, for the whole process (survives reloads).
        self.traffic = RegistryTraffic()
        self._loaded: Fingerprint | None = None  # the config file as it was read (watch)
        shard_text = str(shard) if shard is not None else None
        self.board = StatusBoard(version=__version__, now=now, shard=shard_text)
        self._listeners: list[Listener] = [self.board]
        if report is not None:
            from dregsy.observe.report import ReportWriter

            self._listeners.append(
                ReportWriter(report, version=__version__, now=now, shard=shard_text)
            )
        self._listeners.extend(listeners)

    @property
    def events(self) -> Listener:
        return Listeners(self._listeners)

    async def serve(
        self,
        config: Config,
        load: Callable[[], Config],
        signals: Signals,
        listen: ListenAddress | None = None,
    ) -> int:
        """Run until done or stopped; returns the exit status (0 ok, 1 some sync failed).

        With `listen`, the HTTP endpoint starts first: `EndpointError` if it cannot.
        """
        if self._config_path is not None:  # the CLI read it just before
            self._loaded = fingerprint(self._config_path)
        endpoint = await self._start_endpoint(listen) if listen is not None else None
        try:
            while True:
                new_config = await self._run_config(config, load, signals)
                if new_config is None:
                    return 1 if self.failed else 0
                if new_config.listen != config.listen:
                    log.warning("listen: changed in the config; it takes effect at the next start")
                config = new_config
                log.info("configuration reloaded: %d task(s)", len(config.tasks))
        finally:
            self.events.finished()
            if endpoint is not None:
                await endpoint.aclose()

    async def _start_endpoint(self, listen: ListenAddress) -> Endpoint:
        """Metrics on a registry of this app's own, then the server (imported only now)."""
        from dregsy.observe import metrics, web

        registry = metrics.new_registry()
        self._listeners.append(metrics.TaskMetrics(registry))
        if self._shard is not None:
            metrics.shard_info(registry, self._shard.index, self._shard.count)
        registry.register(metrics.TrafficCollector(self.traffic))
        return await web.start(listen, self.board, registry)

    async def dry_run(self, config: Config) -> int:
        """Decide every image of every task once, reading only; 1 if any image could not
        be checked. Each result goes to the listeners (`image_done`)."""
        parts = self._parts(config, asyncio.Event(), dry_run=True)
        events = self.events

        async def check(task: Task) -> int:
            token = current_task.set(task.label)
            try:
                return (await parts.runner.run(task, listener=events)).failed
            finally:
                current_task.reset(token)

        try:
            failed = await asyncio.gather(*(check(task) for task in config.tasks))
        finally:
            await parts.aclose()
        return 1 if any(failed) else 0

    def _parts(self, config: Config, stop: asyncio.Event, *, dry_run: bool = False) -> _Parts:
        """Connections, relay and runner for `config`; `stop` ends the runner's waits."""
        pool = HttpPool(
            HttpSettings(
                certs_dir=config.certs_dir,
                skopeo_certs_dir=(
                    config.skopeo.certs_dir if config.relay is RelayKind.SKOPEO else None
                ),
                proxies=ProxySettings.from_environment(os.environ),
            ),
            self.traffic,
        )
        registries = RegistryDirectory(pool, CredentialSources.from_environment(os.environ))
        relay = build_relay(config, registries)
        repo_lists = None
        if any(m.repos is not None for task in config.tasks for m in task.mappings):
            from dregsy.listers.factory import ListerFactory  # only regex mappings list

            listers = ListerFactory(registries, pool, self._hub_endpoints)
            repo_lists = RepositoryLists(
                listers.lister_for, config.lister, clock=self._clock.monotonic
            )
        runner = TaskRunner(
            relay,
            registries,
            asyncio.Semaphore(config.parallel),
            repo_lists,
            stop=stop,
            clock=self._clock,
            max_tags=config.max_tags,
            dry_run=dry_run,
            shard=self._shard,
        )
        return _Parts(pool, relay, runner)

    async def _run_config(
        self, config: Config, load: Callable[[], Config], signals: Signals
    ) -> Config | None:
        """Run one config; returns the next config on a valid reload, else None."""
        run_stop = asyncio.Event()
        parts = self._parts(config, run_stop)
        relay, runner = parts.relay, parts.runner
        events = self.events
        events.configured(config.tasks)

        def record_failure() -> None:
            self.failed = True

        async def run_task(task: Task) -> None:
            token = current_task.set(task.label)
            started = self._now()
            events.run_started(task.label, started)
            try:
                stats = await runner.run(task, on_failure=record_failure, listener=events)
            except asyncio.CancelledError:
                # A run cut short by a stop did not sync what it was to sync; an idle
                # periodic task (waiting for its next run) is not in here.
                record_failure()
                raise
            finally:
                current_task.reset(token)
            events.run_finished(
                TaskRun(
                    task.label,
                    started,
                    self._now(),
                    tuple(stats.results),
                    shard=str(self._shard) if self._shard is not None else None,
                    repositories=stats.repositories,
                    repositories_found=stats.repositories_found,
                )
            )

        def on_wait(task: Task, seconds: float | None) -> None:
            events.next_run(task.label, None if seconds is None else self._now() + seconds)

        watcher = None
        if config.watch and self._config_path is not None:
            watcher = asyncio.create_task(
                watch_file(
                    self._config_path,
                    signals.reload.set,
                    stop=run_stop,
                    clock=self._clock,
                    loaded=self._loaded,
                )
            )
        try:
            # a config without mappings (as dregsy allows) needs no relay: no daemon to wait for
            idle = not any(task.mappings for task in config.tasks)
            if not idle and not await _prepare(relay, signals.stop):
                if any(not task.periodic for task in config.tasks):
                    # A one-off task that never ran did not sync: a CronJob must not see 0.
                    log.error("stopped before the one-off tasks could run: nothing was synced")
                    self.failed = True
                return None
            schedule = asyncio.create_task(
                run_schedule(
                    config.tasks, run_task, stop=run_stop, clock=self._clock, on_wait=on_wait
                )
            )
            return await self._supervise(schedule, run_stop, load, signals)
        finally:
            run_stop.set()
            if watcher is not None:
                await watcher
            await parts.aclose()

    async def _supervise(
        self,
        schedule: asyncio.Task[None],
        run_stop: asyncio.Event,
        load: Callable[[], Config],
        signals: Signals,
    ) -> Config | None:
        stop_wait = asyncio.create_task(signals.stop.wait())
        try:
            while True:
                reload_wait = asyncio.create_task(signals.reload.wait())
                await asyncio.wait(
                    {schedule, stop_wait, reload_wait}, return_when=asyncio.FIRST_COMPLETED
                )
                reload_wait.cancel()
                if signals.stop.is_set():
                    await self._drain(schedule, run_stop)
                    return None
                if schedule.done():
                    schedule.result()
                    return None
                signals.reload.clear()
                # In a thread: whatever the file turned into, the loop (and SIGTERM) goes on.
                new_config = await asyncio.to_thread(self._try_load, load)
                if new_config is not None:
                    log.info("configuration changed: waiting for running syncs to finish")
                    run_stop.set()
                    await asyncio.wait({schedule, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                    if signals.stop.is_set():
                        await self._drain(schedule, run_stop)
                        return None
                    schedule.result()
                    return new_config
        finally:
            stop_wait.cancel()

    async def _drain(self, schedule: asyncio.Task[None], run_stop: asyncio.Event) -> None:
        log.info("stopping: letting running syncs finish (at most %.0f s)", self._stop_grace)
        run_stop.set()
        done, _ = await asyncio.wait({schedule}, timeout=self._stop_grace)
        if not done:
            log.warning("stopping: cancelling syncs still running")
            schedule.cancel()
            await asyncio.gather(schedule, return_exceptions=True)

    def _try_load(self, load: Callable[[], Config]) -> Config | None:
        before = fingerprint(self._config_path) if self._config_path is not None else None
        try:
            config = load()
            check_config(config)
        except ConfigError as exc:
            log.error("reload: the new configuration is invalid, keeping the current one")
            for problem in exc.problems:
                log.error("reload: %s", problem)
            return None
        self._loaded = before
        return config


class _Parts(Struct, frozen=True):
    """What runs one config: connections, the relay and the task runner."""

    pool: HttpPool
    relay: Relay
    runner: TaskRunner

    async def aclose(self) -> None:
        await self.relay.aclose()
        await self.pool.aclose()


async def _prepare(relay: Relay, stop: asyncio.Event) -> bool:
    """`relay.prepare()` (which may wait minutes for a daemon); False if stopped meanwhile."""
    preparing = asyncio.create_task(relay.prepare())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({preparing, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        if not preparing.done():
            preparing.cancel()
        await asyncio.gather(preparing, stopping, return_exceptions=True)
    if preparing.cancelled():
        return False
    preparing.result()  # RelayUnavailableError: the relay cannot run
    return True


def select_tasks(config: Config, pattern: str | None) -> Config:
    """Keep the tasks whose name fully matches `pattern` (dregsy's `-run`)."""
    if pattern is None:
        return config
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"-run: invalid regular expression {pattern!r}: {exc}") from exc
    tasks = tuple(t for t in config.tasks if regex.fullmatch(t.name))
    if not tasks:
        raise ConfigError(f"-run: no task name matches {pattern!r}")
    return replace(config, tasks=tasks)
