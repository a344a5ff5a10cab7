"""A gate on the hostile path (`tests/independent/writes/wire.py`): the request reaches Datadog (the change is made),
then its answer is held until the test opens the gate, which a stop may never let happen."""

from __future__ import annotations

import asyncio

import httpx

from tests.independent.writes.wire import Action, Wire


class Gate:
    def __init__(self) -> None:
        self.landed = asyncio.Event()
        self.opened = asyncio.Event()

    def landed_then_held(self) -> Action:
        async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
            status, body = await wire.forward(request)
            self.landed.set()
            await self.opened.wait()
            return httpx.Response(status, content=body, headers={"Content-Type": "application/json"})

        return act
