"""Tasks on one Datadog account act in the order ConductorOne handed them out: an issuance and an enable or disable of
its service account, and the deletion of one of its application keys and a disable of it (docs/service-mode.md "Task
order").

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

import pytest

from connector.baton.errors import Code
from tests.fakes.datadog.org import AppKey, User
from tests.independent.credentials.issuing import issue_task
from tests.independent.meets.shared import held_at_the_door
from tests.independent.writes.conftest import Rig
from tests.independent.writes.tasks import action_task, delete_task
from tests.independent.writes.wire import answer

WAITING = "waiting for an earlier task on the same access"
APP_KEY = "service-account-application-key"


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
    rig.wire.on(method, f"/api/v2/users/{sa.id}", held_at_the_door(gate, arrived))
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


@pytest.mark.parametrize("parent", [False, True], ids=["owner-unnamed", "owner-named-as-parent"])
async def test_a_key_deletion_handed_out_before_a_disable_of_its_account_deletes_the_key(
    rig: Rig, logs: list[MutableMapping[str, Any]], parent: bool
) -> None:
    """The deletion of a service account's application key, then a disable of that account. Run side by side, the
    disable landed while the deletion was under way; the deletion then met the disabled account's 404 on its path and
    fell back to the org-wide deletion, which a connector without org_app_keys_write may not do: the key ConductorOne
    asked to revoke first was left live, reported failed. ConductorOne sends no owner with the deletion (its parent is
    unset, docs/spec/credentials.md §3.4), so the deletion is ordered after and before every action on an account."""
    org = rig.fake.org
    sa: User = org.add_user("robot-803@example.com", name="Robot 803", service_account=True, status="Active")
    key = AppKey(org.new_id(), "c1-handed-out", org.new_secret(40), sa.id, org.now())
    org.app_keys[key.id] = key
    # The endpoints' rate-limit buckets learned first (see above): a held request holds no other of its group.
    await rig.client.get_user(sa.id)
    await rig.client.get_application_key(key.id)
    # This connector may not delete keys org-wide (no org_app_keys_write).
    rig.wire.on("DELETE", f"/api/v2/application_keys/{key.id}", answer(403, {"errors": ["Forbidden"]}))
    gate, arrived = asyncio.Event(), asyncio.Event()
    # The deletion's first request held at Datadog's door: the owner's lookup, or the deletion under the named owner.
    first_step = (
        ("DELETE", f"/api/v2/service_accounts/{sa.id}/application_keys/{key.id}")
        if parent
        else ("GET", f"/api/v2/application_keys/{key.id}")
    )
    rig.wire.on(*first_step, held_at_the_door(gate, arrived))
    deletion = delete_task(APP_KEY, key.id, ("user", sa.id) if parent else None)
    deleting = asyncio.create_task(rig.processor.process(deletion))
    await arrived.wait()
    disable = action_task("disable_user", sa.id)
    disabling = asyncio.create_task(rig.processor.process(disable))
    await _until(
        lambda: any(f.task_id == disable.id for f in rig.c1.finishes) or any(e["event"] == WAITING for e in logs)
    )
    reported_meanwhile = [f.task_id for f in rig.c1.finishes]
    gate.set()
    await asyncio.gather(deleting, disabling)
    deleted, disabled = (next(f for f in rig.c1.finishes if f.task_id == task.id) for task in (deletion, disable))
    assert deleted.ok, deleted.message
    assert key.id not in org.app_keys, "the key ConductorOne asked to revoke is live"
    assert disabled.ok, disabled.message
    assert org.users[sa.id].disabled
    assert reported_meanwhile == [], "the disable ran while the key's deletion was held"
