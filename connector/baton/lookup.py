"""Host name lookups on threads of their own, at most `MAX_LOOKUPS` at once, for every outbound HTTP connection (the
Datadog client's, the token request's, httpx's path through an https proxy).

A lookup cannot be cancelled: its caller's timeout ends the wait for it, and its thread stays in `getaddrinfo` for as
long as the resolver is silent. On the loop's default executor (where asyncio's and anyio's lookups run), six such
lookups took all of its threads, and the loop's close and the interpreter's exit waited for them
(`connector/daemon/exiting.py`); these threads are daemon threads, which neither waits for.

The addresses a lookup found are then raced (`connected_socket`), for the Datadog client's network layer and for
httpx's alike (`netsteps.connect`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import threading
from typing import Any

__all__ = ["MAX_LOOKUPS", "connected_socket", "looked_up"]


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


# How long one address may try before the next starts (RFC 8305's "Connection Attempt Delay"; anyio's too).
_HAPPY_EYEBALLS_DELAY = 0.25


async def connected_socket(
    loop: asyncio.AbstractEventLoop, infos: list[Any], local_address: str | None
) -> socket.socket:
    """A TCP socket connected to one of `host`'s addresses, raced as asyncio's happy eyeballs race them (families
    interleaved, the next address after `_HAPPY_EYEBALLS_DELAY` or at once when one fails), with its errors.

    Not asyncio's own race (`create_connection(happy_eyeballs_delay=...)`): on 3.11 a caller cancelled in the few
    loop iterations after an address connected (the engine cancelling a listing, the request's deadline) left that
    socket open, reachable by no one until the garbage collector found it. Here every socket an attempt made is
    either returned or closed, however the race ends.
    """
    if not infos:
        raise OSError("getaddrinfo() returned empty list")  # asyncio's words
    untried = _interleaved(infos)
    running: set[asyncio.Task[socket.socket]] = set()
    errors: list[OSError] = []
    winner: socket.socket | None = None
    try:
        while winner is None and (untried or running):
            if untried:
                running.add(loop.create_task(_connect_one(loop, untried.pop(0), local_address)))
            done, running = await asyncio.wait(
                running, timeout=_HAPPY_EYEBALLS_DELAY if untried else None, return_when=asyncio.FIRST_COMPLETED
            )
            for attempt in done:
                error = attempt.exception()
                if error is None:
                    if winner is None:
                        winner = attempt.result()
                    else:
                        attempt.result().close()
                elif isinstance(error, OSError):
                    errors.append(error)
                else:
                    raise error
    except BaseException:
        if winner is not None:
            winner.close()
        raise
    finally:
        for attempt in running:  # losers, or every attempt of a cancelled race: closed once they end
            attempt.cancel()
            attempt.add_done_callback(_close_connected)
    if winner is not None:
        return winner
    # As asyncio's create_connection reports its attempts' failures.
    if len(errors) == 1 or all(str(error) == str(errors[0]) for error in errors):
        raise errors[0]
    raise OSError("Multiple exceptions: {}".format(", ".join(str(error) for error in errors)))


def _interleaved(infos: list[Any]) -> list[Any]:
    """The addresses with their families alternating, in the resolver's order otherwise (asyncio's `interleave=1`)."""
    by_family: dict[int, list[Any]] = {}
    for info in infos:
        by_family.setdefault(info[0], []).append(info)
    ordered: list[Any] = []
    for row in itertools.zip_longest(*by_family.values()):
        ordered.extend(info for info in row if info is not None)
    return ordered


async def _connect_one(loop: asyncio.AbstractEventLoop, info: Any, local_address: str | None) -> socket.socket:
    family, kind, proto, _, address = info
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        if local_address:
            sock.bind((local_address, 0))
        await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


def _close_connected(attempt: asyncio.Task[socket.socket]) -> None:
    if not attempt.cancelled() and attempt.exception() is None:
        attempt.result().close()
