"""A clock the races' tests hold: it moves only when a test says, and sleeps end only then, so the interleaving of the
calls' waits is the test's, not the scheduler's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class HeldTime:
    """A clock that moves only when the test says, and sleeps that end only then: the interleaving of the calls'
    waits is the test's, not the scheduler's."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeping = 0
        self._moved = asyncio.Event()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeping += 1
        try:
            await self._moved.wait()
        finally:
            self.sleeping -= 1

    async def move_to(self, when: float) -> None:
        """Set the clock and wake every sleeper (each checks again what it waits for)."""
        self.now = when
        moved, self._moved = self._moved, asyncio.Event()
        moved.set()
        for _ in range(50):
            await asyncio.sleep(0)


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the calls never got there")
