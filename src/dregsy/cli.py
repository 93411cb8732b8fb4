"""The command line: dregsy's Go-style flags, exit codes, signals and logging setup.

    dregsy -config=FILE [-run=REGEX]     (also --config FILE, --run REGEX)

Exit status: 0 every sync succeeded; 1 a sync failed at some point; 2 usage or config error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from dregsy import __version__
from dregsy.app import App, Signals, check_config, select_tasks
from dregsy.config.load import load_config
from dregsy.config.types import Config
from dregsy.errors import ConfigError, RelayUnavailableError
from dregsy.logsetup import configure
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


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.config:
        _parser().print_usage(sys.stderr)
        print("dregsy: error: -config=FILE is required", file=sys.stderr)
        return EXIT_USAGE
    path = Path(args.config)
    for warning in configure(os.environ):
        log.warning("%s", warning)
    try:
        config = _load(path, args.run)
    except ConfigError as exc:
        _report(path, exc)
        return EXIT_USAGE
    log.info(
        "dregsy %s: %d task(s) from %s, %s relay",
        __version__,
        len(config.tasks),
        path,
        config.relay,
    )
    try:
        return asyncio.run(_serve(config, path, args.run))
    except RelayUnavailableError as exc:  # binary missing, daemon down: nothing can sync
        log.error("cannot start: %s", exc)
        return EXIT_FAILED
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        return EXIT_FAILED


async def _serve(config: Config, path: Path, run_filter: str | None) -> int:
    signals = Signals()
    loop = asyncio.get_running_loop()
    loop.set_default_executor(DaemonThreadExecutor())  # AWS/Google calls must not delay exit
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_stop, signals, sig)
    loop.add_signal_handler(signal.SIGHUP, _on_reload, signals)
    app = App(config_path=path)
    status = await app.serve(config, lambda: _load(path, run_filter), signals)
    log.info("dregsy finished: %s", "a sync failed" if status else "all syncs succeeded")
    return status


def _on_stop(signals: Signals, sig: signal.Signals) -> None:
    log.info("received %s", sig.name)
    signals.stop.set()


def _on_reload(signals: Signals) -> None:
    log.info("received SIGHUP: reloading the configuration")
    signals.reload.set()
