"""An issuance stopped mid-way by the shutdown says in its report that a credential may have been made (issue 10: a
mint whose answer was lost is reported truthfully). A grant or revoke stopped mid-way says "a change it had already
sent may have been made all the same: check it there" (docs/service-mode.md); an issuance said only "stopped mid-way,
so not to be retried as is", though its create may have landed with the cleanup by name cut short by the same stop:
a live credential nobody holds, and ConductorOne's report silent about it (only a log line named it)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connector.baton.errors import Code
from tests.independent.credentials.issuing import KINDS, MINT_PATHS, credentials, issue_task, robot
from tests.independent.writes.conftest import Rig
from tests.independent.writes.wire import Action, Wire

SHUTDOWN = "the connector is shutting down"


def _landed_then_held(landed: asyncio.Event) -> Action:
    async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
        await wire.forward(request)  # Datadog made it
        landed.set()
        await asyncio.Event().wait()  # its answer never comes
        raise AssertionError("unreachable")

    return act


def _held(reached: asyncio.Event) -> Action:
    async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
        reached.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return act


@pytest.mark.parametrize("kind", KINDS)
async def test_an_issuance_stopped_with_its_create_landed_says_a_credential_may_have_been_made(
    rig: Rig, kind: str
) -> None:
    sa = robot(rig.fake)
    task = issue_task(sa.id, kind)
    before = credentials(rig.fake)
    landed, looking_up = asyncio.Event(), asyncio.Event()
    rig.wire.on("POST", MINT_PATHS[kind], _landed_then_held(landed))
    running = asyncio.create_task(rig.processor.process(task))
    async with asyncio.timeout(30):  # not a measure: a failure instead of a hang
        await landed.wait()
    rig.wire.on("GET", MINT_PATHS[kind], _held(looking_up))  # the cleanup's lookup by name: Datadog went quiet
    rig.processor.abandon_all(SHUTDOWN, finish_within=1.0)
    async with asyncio.timeout(30):
        await looking_up.wait()
    running.cancel()  # the drain's last resort: the cleanup is cut short
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(30):
            await running
    assert len(credentials(rig.fake) - before) == 1, "the create landed and nothing deleted it"
    (finish,) = [f for f in rig.c1.finishes if f.task_id == task.id]
    assert (finish.ok, finish.code, finish.non_retryable) == (False, Code.UNAVAILABLE, True)
    assert SHUTDOWN in finish.message
    assert "may have been made all the same: check it there" in finish.message, finish.message
