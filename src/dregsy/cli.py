"""The command line: dregsy's Go-style flags, exit codes, signals and logging setup.

    dregsy -config=FILE [-run=REGEX] [-listen=ADDR] [-report=FILE] [-dry-run] [-shard=I/N]
    (also --config FILE, --run REGEX, ...)

The shard may also come from the environment (`dregsy.shard`): DREGSY_SHARD=I/N, or
DREGSY_SHARDS=N with JOB_COMPLETION_INDEX or the host name's ordinal.

Exit status: 0 every sync succeeded; 1 a sync failed at some point; 2 usage or config error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from dregsy import __version__
from dregsy.app import App, Signals, check_config, select_tasks
from dregsy.config.load import load_config
from dregsy.config.types import Config
from dregsy.errors import ConfigError, EndpointError, RelayUnavailableError
from dregsy.logsetup import configure
from dregsy.observe.address import AddressError, ListenAddress, parse_listen
from dregsy.observe.events import Listener
from dregsy.shard import Shard, ShardError, shard_from
from dregsy.threads import DaemonThreadExecutor

log = logging.getLogger("dregsy")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dregsy",
        description="Keep container images in sync between registries.",
        allow_abbrev=False,
        add_help=False,
    )
    parser.add_argument("-config", "--config", metavar="FILE", help="path to the YAML config")
    parser.add_argument(
        "-run", "--run", metavar="REGEX", help="run only the tasks whose name fully matches"
    )
    parser.add_argument(
        "-listen",
        "--listen",
        metavar="ADDR",
        help="serve /metrics, /healthz, /readyz and a status page at [HOST]:PORT "
        "(wins over the config's listen)",
    )
    parser.add_argument(
        "-report", "--report", metavar="FILE", help="write a JSON report after each task run"
    )
    parser.add_argument(
        "-dry-run",
        "--dry-run",
        action="store_true",
        help="say what a run would copy and why, reading only; then exit",
    )
    parser.add_argument(
        "-shard",
        "--shard",
        metavar="I/N",
        help="sync only shard I of N (0 <= I < N) of the (task, repository) work units",
    )
    parser.add_argument("-version", "--version", action="version", version=f"dregsy {__version__}")
    parser.add_argument("-h", "-help", "--help", action="help", help="show this help and exit")
    return parser


def _load(path: Path, run_filter: str | None) -> Config:
    config = select_tasks(load_config(path), run_filter)
    check_config(config)
    for warning in config.warnings:
        log.warning("config: %s: %s", path, warning)
    return config


def _report(path: Path, exc: ConfigError) -> None:
    for problem in exc.problems:
        print(f"dregsy: config error: {path}: {problem}", file=sys.stderr)


def run() -> NoReturn:
    """The `dregsy` command: `main`, then exit without tearing the interpreter down.

    Everything is finished by then (syncs awaited, child processes reaped, temporary auth
    files removed, executor threads joined); what is left is freeing every module and object
    one by one, which costs about 0.1 s of a short run. Logs and output are flushed first.
    """
    status = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe loses nothing more
            stream.flush()
    os._exit(status)


def _usage_error(message: str) -> int:
    _parser().print_usage(sys.stderr)
    print(f"dregsy: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _check_flags(args: argparse.Namespace) -> str | None:
    """The first problem with the flags, or None."""
    if not args.config:
        return "-config=FILE is required"
    if args.dry_run and (args.listen is not None or args.report is not None):
        return "-dry-run cannot be combined with -listen or -report"
    if args.listen is not None:
        try:
            parse_listen(args.listen)
        except AddressError as exc:
            return f"-listen {exc}"
    if args.report is not None:
        folder = Path(args.report).absolute().parent
        if not folder.is_dir():
            return f"-report: the directory {folder} does not exist"
        if Path(args.report).is_dir():
            return f"-report: {args.report} is a directory"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    problem = _check_flags(args)
    if problem is not None:
        return _usage_error(problem)
    path = Path(args.config)
    try:
        shard = shard_from(
            args.shard, os.environ, os.environ.get("HOSTNAME") or socket.gethostname()
        )
    except ShardError as exc:
        print(f"dregsy: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for warning in configure(os.environ, shard=str(shard) if shard is not None else None):
        log.warning("%s", warning)
    try:
        config = _load(path, args.run)
    except ConfigError as exc:
        _report(path, exc)
        return EXIT_USAGE
    log.info(
        "dregsy %s: %d task(s) from %s, %s relay%s",
        __version__,
        len(config.tasks),
        path,
        config.relay,
        f", shard {shard}" if shard is not None else "",
    )
    listen = parse_listen(args.listen) if args.listen is not None else config.listen
    report = Path(args.report) if args.report is not None else None
    try:
        if args.dry_run:
            return asyncio.run(_dry_run(config, path, shard))
        return asyncio.run(_serve(config, path, args.run, listen, report, shard))
    except EndpointError as exc:  # nothing synced yet
        print(f"dregsy: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RelayUnavailableError as exc:  # binary missing, daemon down: nothing can sync
        log.error("cannot start: %s", exc)
        return EXIT_FAILED
    except KeyboardInterrupt:  # a second Ctrl-C while stopping, or Ctrl-C in a dry run
        return EXIT_FAILED


def _progress(config: Config) -> list[Listener]:
    """Live progress for one-off runs on a terminal; none in JSON logs or pipes."""
    if not sys.stderr.isatty() or os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
        return []
    if any(task.periodic for task in config.tasks):
        return []
    from dregsy.observe.progress import ProgressDisplay

    return [ProgressDisplay(sys.stderr)]


async def _serve(
    config: Config,
    path: Path,
    run_filter: str | None,
    listen: ListenAddress | None,
    report: Path | None,
    shard: Shard | None,
) -> int:
    signals = Signals()
    loop = asyncio.get_running_loop()
    loop.set_default_executor(DaemonThreadExecutor())  # AWS/Google calls must not delay exit
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_stop, signals, sig)
    loop.add_signal_handler(signal.SIGHUP, _on_reload, signals)
    app = App(config_path=path, report=report, listeners=_progress(config), shard=shard)
    status = await app.serve(config, lambda: _load(path, run_filter), signals, listen)
    log.info("dregsy finished: %s", "a sync failed" if status else "all syncs succeeded")
    return status


async def _dry_run(config: Config, path: Path, shard: Shard | None) -> int:
    """Every selected image once, reading only: a table on a terminal, else log lines."""
    from dregsy.observe.dryrun import DryRunOutput

    loop = asyncio.get_running_loop()
    loop.set_default_executor(DaemonThreadExecutor())
    output = DryRunOutput(sys.stdout, table=sys.stdout.isatty())
    status = await App(config_path=path, listeners=[output], shard=shard).dry_run(config)
    output.finish()
    return status


def _on_stop(signals: Signals, sig: signal.Signals) -> None:
    log.info("received %s", sig.name)
    signals.stop.set()


def _on_reload(signals: Signals) -> None:
    log.info("received SIGHUP: reloading the configuration")
    signals.reload.set()
