"""A create whose answer never came may still be at work at Datadog when the connector looks for what it made
(docs/spec/credentials.md §4: "a mint whose result cannot be returned is deleted on the spot"). A gateway gives up on a
slow create (504), the lookup by name finds nothing yet, and the create lands a moment later: a live credential. The
report said "none found", which a reader takes for "nothing was made"; it now says the create may still land, under
the name it gives."""

from __future__ import annotations

import httpx
import pytest

from tests.independent.credentials.issuing import KINDS, MINT_PATHS, credentials, issue_task, robot
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good
from tests.independent.writes.wire import Action, Wire

LISTINGS = MINT_PATHS  # each kind's listing is its create's path, read with GET


def _slow_create(kind: str) -> tuple[list[httpx.Request], Action]:
    held: list[httpx.Request] = []

    async def lookup_then_land(request: httpx.Request, wire: Wire) -> httpx.Response:
        status, body = await wire.forward(request)  # the lookup, before Datadog is done with the create
        for create in held:
            await wire.forward(create)  # ... which lands now
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    async def gateway_gives_up(request: httpx.Request, wire: Wire) -> httpx.Response:
        held.append(request)
        wire.on("GET", LISTINGS[kind], lookup_then_land)
        return httpx.Response(504, content=b"<html>Gateway Timeout</html>", headers={"content-type": "text/html"})

    return held, gateway_gives_up


@pytest.mark.parametrize("kind", KINDS)
async def test_a_create_landing_after_its_lookup_is_not_reported_as_never_made(rig: Rig, kind: str) -> None:
    before = credentials(rig.fake)
    held, gateway_gives_up = _slow_create(kind)
    rig.wire.on("POST", MINT_PATHS[kind], gateway_gives_up)
    task = issue_task(robot(rig.fake).id, kind)
    finish = await rig.run(task)
    assert failed_for_good(finish), finish
    assert held, "the create reached the gateway"
    assert len(credentials(rig.fake) - before) == 1, "the create landed after the lookup"
    assert f'"c1-{task.id}"' in finish.message, finish.message
    assert "may still make one under that name" in finish.message, finish.message
