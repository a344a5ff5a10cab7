"""Host name lookups on threads of their own, at most `MAX_LOOKUPS` at once, for every outbound HTTP connection (the
Datadog client's, the token request's, httpx's path through an https proxy).

A lookup cannot be cancelled: its caller's timeout ends the wait for it, and its thread stays in `getaddrinfo` for as
long as the resolver is silent. On the loop's default executor (where asyncio's and anyio's lookups run), six such
lookups took all of its threads, and the loop's close and the interpreter's exit waited for them
(`connector/daemon/exiting.py`); these threads are daemon threads, which neither waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import Any

__all__ = ["MAX_LOOKUPS", "looked_up"]


MAX_LOOKUPS = 16
"""Host name lookups running at once. Each runs on a daemon thread of its own, not on the loop's default executor: a
resolver that does not answer keeps its thread in `getaddrinfo` (it cannot be cancelled), and six such lookups took
every thread of that executor, so every `to_thread` after them (the c1z store's jobs, a working directory's release,
a task's decoding) waited for the resolver. A lookup past this many waits for one to end, within its connect
timeout."""

_lookups = 0
_lookups_lock = threading.Lock()


async def looked_up(loop: asyncio.AbstractEventLoop, host: str, port: int) -> list[Any]:
    """`socket.getaddrinfo(host, port)` for a stream, on a lookup thread (`MAX_LOOKUPS`)."""
    global _lookups
    while True:
        with _lookups_lock:
            if _lookups < MAX_LOOKUPS:
                _lookups += 1
                break
        await asyncio.sleep(0.05)  # every lane held by a lookup the resolver has not answered yet
    answer: asyncio.Future[list[Any]] = loop.create_future()

    def settle(result: list[Any] | None, error: BaseException | None) -> None:
        if answer.done():  # the awaiting connect gave up (its timeout)
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(result or [])

    def look_up() -> None:
        global _lookups
        result: list[Any] | None = None
        error: BaseException | None = None
        try:
            result = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except BaseException as exc:  # handed to the awaiting coroutine, as the executor would
            error = exc
        finally:
            with _lookups_lock:
                _lookups -= 1
        with contextlib.suppress(RuntimeError):  # the loop closed while the resolver was silent
            loop.call_soon_threadsafe(settle, result, error)

    try:
        threading.Thread(target=look_up, name="host-lookup", daemon=True).start()
    except BaseException as exc:
        # No thread, no lookup: its lane back (kept, every later lookup waited out its timeout for good), and a
        # connection failure, not an unexpected one.
        with _lookups_lock:
            _lookups -= 1
        raise OSError(f"cannot start a thread to look the host name up ({exc})") from exc
    return await answer
