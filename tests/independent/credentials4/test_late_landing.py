"""A create whose answer never came may still be at work at Datadog when the connector looks for what it made
(docs/spec/credentials.md §4: "a mint whose result cannot be returned is deleted on the spot"). A gateway gives up on a
slow create (504), the lookup by name finds nothing yet, and the create lands a moment later: a live credential. The
report said "none found", which a reader takes for "nothing was made"; it now says the create may still land, under
the name it gives."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

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


@pytest.mark.parametrize("kind", KINDS)
async def test_a_create_cancelled_before_datadog_finished_is_logged_as_maybe_still_landing(
    rig: Rig, logs: list[MutableMapping[str, Any]], kind: str
) -> None:
    """The task is abandoned at shutdown while the create is still at Datadog: the lookup by name finds nothing yet.
    The log line is the cancelled task's only trace; it said "cleaned_up 0" at warning, read as nothing made."""
    entered = asyncio.Event()

    async def still_at_datadog(request: httpx.Request, wire: Wire) -> httpx.Response:
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError("never answered")

    rig.wire.on("POST", MINT_PATHS[kind], still_at_datadog)
    issuer = rig.connector.credential_issuer("user")
    assert issuer is not None
    task = issue_task(robot(rig.fake).id, kind).issue_credential
    issuing = asyncio.create_task(
        issuer.issue_credential(task.identity_id, task.credential_options, None, "req-late-landing")
    )
    await entered.wait()
    issuing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await issuing
    (line,) = [e for e in logs if e.get("outcome") == "create_cancelled"]
    assert line["log_level"] == "error", line
    assert '"c1-req-late-landing"' in line["error"], line
    assert "may still make one under that name" in line["error"], line


@pytest.mark.parametrize("kind", KINDS)
async def test_a_create_answered_2xx_with_an_unreadable_body_reports_none_found_and_no_late_landing(
    rig: Rig, kind: str
) -> None:
    """Datadog answered the create (2xx), so it was done with it when the lookup ran: a lookup finding nothing means
    nothing was made, and the report says so without the caveat of a create cut off before its answer."""

    async def done_but_unreadable(request: httpx.Request, wire: Wire) -> httpx.Response:
        return httpx.Response(201, content=b"<html>Created</html>", headers={"content-type": "text/html"})

    rig.wire.on("POST", MINT_PATHS[kind], done_but_unreadable)
    finish = await rig.run(issue_task(robot(rig.fake).id, kind))
    assert failed_for_good(finish), finish
    assert "none found" in finish.message, finish.message
    assert "may still make one" not in finish.message, finish.message
