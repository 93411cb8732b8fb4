from __future__ import annotations

import subprocess
import sys
import textwrap

from dregsy.threads import DaemonThreadExecutor

PROGRAM = textwrap.dedent(
    """
    import asyncio, time
    from dregsy.threads import DaemonThreadExecutor

    async def main():
        asyncio.get_running_loop().set_default_executor(DaemonThreadExecutor())
        stuck = asyncio.create_task(asyncio.to_thread(time.sleep, 30))
        await asyncio.sleep(0.1)
        stuck.cancel()
        print(await asyncio.to_thread(lambda: 6 * 7))

    asyncio.run(main())
    """
)


def test_a_stuck_blocking_call_does_not_hold_up_exit() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=10, check=True
    )
    assert done.stdout.strip() == "42"


def test_results_and_exceptions_reach_the_caller() -> None:
    executor = DaemonThreadExecutor()
    assert executor.submit(pow, 2, 10).result(timeout=5) == 1024
    failed = executor.submit(int, "not a number")
    assert isinstance(failed.exception(timeout=5), ValueError)
