"""The run's event loop and the process's exit never wait for good on a worker thread the outside world holds.

A blocking call handed to a thread (`asyncio.to_thread` opening a file on a mount that stopped answering; a host name
lookup made on the loop's executor, as asyncio's and anyio's own are) cannot be cancelled: the awaiting coroutine is,
within its deadline, and the thread stays in the call. A host name whose resolver never answered left such a thread
in `getaddrinfo`, and then `asyncio.run` waited for it as the loop closed (`shutdown_default_executor` has no bound
before 3.12), and the interpreter again as it exited (it joins every pool thread): a one-shot sync that had failed,
or been stopped by SIGTERM, never printed its closing line nor exited; only SIGKILL ended it. (The connector's own
lookups, the Datadog client's, the token request's and an https proxy's, now run on daemon threads of their own:
`connector/baton/lookup.py`.) Here both waits are bounded by `THREAD_WAIT`: the loop's default executor stops
waiting for its threads then, and `leave` ends the process with the run's exit code, its exit callbacks run and its
streams flushed, when a thread is still held then, with a warning saying so.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from collections.abc import Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

# Seconds, for both waits together: a worker thread still busy this long after its run ended is held by the outside
# world. Short, as it comes after a service's drain, which the chart's terminationGracePeriodSeconds budgets.
THREAD_WAIT = 1.0


def _join(threads: Iterable[threading.Thread], seconds: float) -> list[threading.Thread]:
    """Wait up to `seconds` in all for `threads` to end; those still running."""
    deadline = time.monotonic() + seconds
    running = []
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            running.append(thread)
    return running


def _warn(threads: int) -> None:
    with contextlib.suppress(Exception):  # a warning at the exit: never the reason the exit fails
        import structlog

        structlog.get_logger(__name__).warning(
            "exiting without waiting for worker threads still blocked outside the process"
            " (a host name lookup or a file that never answers)",
            threads=threads,
        )


class _WorkerThreads(ThreadPoolExecutor):
    """The loop's default executor, whose shutdown waits at most `THREAD_WAIT` for its threads; `leave` then waits no
    longer for those it left (`gave_up`)."""

    gave_up = False

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        super().shutdown(wait=False, cancel_futures=cancel_futures)
        held = _join(list(self._threads), THREAD_WAIT) if wait else []
        if held:
            _WorkerThreads.gave_up = True
            _warn(len(held))  # here, before a failed run's closing line, which comes once the loop is closed


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run`, with a default executor whose shutdown as the loop closes is bounded."""
    import asyncio  # here: `leave` ends every command, and --help and --version load no asyncio

    with asyncio.Runner() as runner:
        runner.get_loop().set_default_executor(_WorkerThreads())
        return runner.run(main)


def leave(code: int) -> int:
    """At the process's end, with its exit code decided: `code`, once the worker threads have ended and the log's last
    lines are written (`logging.finish`, bounded); when a worker thread is still held `THREAD_WAIT` later (at once,
    when the loop's executor already waited that long), the process ends now with `code`, as the interpreter would
    have (exit callbacks run, streams flushed) without joining that thread."""
    from connector.daemon import logging as logs

    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    held = _join(others, 0.0 if _WorkerThreads.gave_up else THREAD_WAIT)
    if held and not _WorkerThreads.gave_up:
        _warn(len(held))
    # The run's last lines are written, within a bound: a log stream nobody reads is not waited for (its writer's
    # thread is a daemon thread, which the exit never joins).
    logs.finish()
    if not held:
        return code
    with contextlib.suppress(Exception):
        atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)
