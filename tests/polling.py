"""Waiting in a test for what another thread or the loop's other tasks make true, where there is no event to await
(a fake's state on its own thread, a server's count of connections)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(condition: Callable[[], object], what: str, *, within: float = 30.0, every: float = 0.02) -> None:
    """Poll `condition` until it holds; after `within` seconds fail naming `what` (a bound against a hang, not a
    measure of time: a condition that holds ends the wait at once, so only a hang costs `within`)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(what)
        await asyncio.sleep(every)
