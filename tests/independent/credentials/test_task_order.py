"""Tasks on one Datadog account act in the order ConductorOne handed them out: an issuance and an enable or disable of
its service account (docs/service-mode.md "Task order").

Issuance reads the account live and refuses a disabled one. Run beside an enable handed out just before it, it read
the account still disabled and refused the credential ConductorOne asked for once the account was enabled; run beside
a disable, it issued a credential to the account being disabled, reported issued where the order ConductorOne gave
refuses it. Here Datadog holds the first task's write at its door (a gate on the wire, no sleeps) while the issuance
is handed over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, MutableMapping
from typing import Any

import httpx
import pytest

from connector.baton.errors import Code
from tests.fakes.datadog.org import User
from tests.independent.credentials.issuing import issue_task
from tests.independent.writes.conftest import Rig
from tests.independent.writes.tasks import action_task
from tests.independent.writes.wire import JSON, Action, Wire

WAITING = "waiting for an earlier task on the same access"
APP_KEY = "service-account-application-key"


def _held_at_the_door(gate: asyncio.Event, arrived: asyncio.Event) -> Action:
    """Datadog takes the request only once `gate` opens; `arrived` is set when it reaches the door."""

    async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
        arrived.set()
        await gate.wait()
        status, body = await wire.forward(request)
        return httpx.Response(status, content=body, headers={"Content-Type": JSON})

    return act


async def _until(check: Callable[[], bool]) -> None:
    """Until `check` holds; a guard against a hang, not a measure of time."""
    for _ in range(5_000):
        if check():
            return
        await asyncio.sleep(0.002)
    raise AssertionError("the condition never held")


@pytest.mark.parametrize(
    ("action", "status", "method"),
    [("enable_user", "Disabled", "PATCH"), ("disable_user", "Active", "DELETE")],
)
async def test_an_issuance_waits_for_an_earlier_enable_or_disable_of_its_service_account(
    rig: Rig, logs: list[MutableMapping[str, Any]], action: str, status: str, method: str
) -> None:
    sa: User = rig.fake.org.add_user("robot-802@example.com", name="Robot 802", service_account=True, status=status)
    # The users endpoints' rate-limit bucket learned first: until then the client lets one request of a group through
    # at a time, and the held write would hold the issuance's read of the account whatever the order.
    await rig.client.get_user(sa.id)
    gate, arrived = asyncio.Event(), asyncio.Event()
    rig.wire.on(method, f"/api/v2/users/{sa.id}", _held_at_the_door(gate, arrived))
    first = asyncio.create_task(rig.processor.process(action_task(action, sa.id)))
    await arrived.wait()
    issue = issue_task(sa.id, APP_KEY)
    issuing = asyncio.create_task(rig.processor.process(issue))
    await _until(
        lambda: any(f.task_id == issue.id for f in rig.c1.finishes) or any(e["event"] == WAITING for e in logs)
    )
    reported_meanwhile = [f.task_id for f in rig.c1.finishes]
    gate.set()
    await asyncio.gather(first, issuing)
    done, issued = rig.c1.finishes
    assert done.ok
    issued_keys = [k for k in rig.fake.org.app_keys.values() if k.owner_id == sa.id]
    if action == "enable_user":
        assert issued.ok, issued.message
        assert len(issued_keys) == 1
    else:
        assert (issued.ok, issued.code) == (False, Code.FAILED_PRECONDITION)
        assert "is disabled" in issued.message
        assert issued_keys == []
    assert rig.fake.org.users[sa.id].disabled is (action == "disable_user")
    assert reported_meanwhile == [], "the issuance ran while the account's change was held"
