"""The `dregsy` command's entry point: the CLI is imported with collection paused, and
collection is on again afterwards, whatever happened. Each case runs in a fresh
interpreter, where `dregsy.cli` is not imported yet (and the test run's own collector is
left alone)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from dregsy import __version__


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_cli_is_imported_with_collection_paused_then_frozen_and_resumed() -> None:
    out = _python(
        """
        import gc, sys
        seen = []

        class Watch:
            def find_spec(self, name, path=None, target=None):
                if name == "dregsy.cli":
                    seen.append(gc.isenabled())
                return None

        sys.meta_path.insert(0, Watch())
        from dregsy.entry import load_cli
        run = load_cli()
        print(seen, gc.isenabled(), gc.get_freeze_count() > 0, run.__module__, run.__name__)
        """
    )
    assert out == "[False] True True dregsy.cli run"


def test_collection_resumes_when_the_import_fails() -> None:
    out = _python(
        """
        import gc, sys
        sys.modules["dregsy.cli"] = None  # makes `from dregsy.cli import ...` fail
        from dregsy.entry import load_cli
        try:
            load_cli()
        except ImportError:
            print("ImportError", gc.isenabled())
        """
    )
    assert out == "ImportError True"


def test_python_m_dregsy_runs_the_command_through_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dregsy", "-version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"dregsy {__version__}"
