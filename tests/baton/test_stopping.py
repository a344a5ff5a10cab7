"""`until_stopped`: a network call raced against the stop event, leaving no orphan behind whatever happens."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from connector.baton.runtime.stopping import Stopped, until_stopped


async def test_the_call_wins_when_it_finishes_first() -> None:
    async def call() -> int:
        return 7

    assert await until_stopped(call(), asyncio.Event()) == 7


async def test_the_stop_wins_and_the_call_is_cancelled() -> None:
    stop = asyncio.Event()
    cancelled = asyncio.Event()

    async def hangs() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    waiter = asyncio.create_task(until_stopped(hangs(), stop))
    await asyncio.sleep(0)
    stop.set()
    with pytest.raises(Stopped):
        await waiter
    assert cancelled.is_set()


async def test_cancelling_the_waiter_cancels_the_call_and_leaves_no_unretrieved_error() -> None:
    """The waiter itself cancelled (shutdown of the loop's tasks): the call must not run on as an orphan, and
    an error it raises while being cancelled must not surface later as "Task exception was never retrieved"."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def fails_when_cancelled() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
            raise RuntimeError("cleanup failed")

    waiter = asyncio.create_task(until_stopped(fails_when_cancelled(), asyncio.Event()))
    await started.wait()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.wait_for(cancelled.wait(), 30)  # a bound on a hang
    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()
    loop.set_exception_handler(None)
    assert reported == []
