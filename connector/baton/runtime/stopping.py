"""Waiting on the network without holding up a shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


class Stopped(Exception):
    """The stop event was set while the call was still waiting."""


async def until_stopped(call: Awaitable[T], stop: asyncio.Event) -> T:
    """Await `call`, but give up at once when `stop` is set.

    A silently dropped connection must not hold a SIGTERM for a whole HTTP or gRPC timeout: the kubelet would
    SIGKILL the pod before it drained. A call that completes in the same instant as the stop still wins.
    """
    work = asyncio.ensure_future(call)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        # We were cancelled ourselves: the call must not run on as an orphan, and whatever it ends with is
        # retrieved here, so it never surfaces as "Task exception was never retrieved".
        work.cancel()
        work.add_done_callback(_retrieve)
        raise
    finally:
        stopped.cancel()
    if not work.done():
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        raise Stopped
    return work.result()


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
