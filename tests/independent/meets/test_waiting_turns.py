"""A task waiting for an earlier task on the same access (docs/service-mode.md "Task order") does no work meanwhile,
and must not hold one of the `BATON_TASK_CONCURRENCY` slots while it waits: the slots are what lets the poll loop
claim the next task (§3.2, "no task is claimed without capacity to run it").

Held, two grants of one team membership filled both slots of a daemon of concurrency 2 while Datadog held the first:
the second did nothing, and a just-in-time revoke of another access was not even claimed until the first grant's
write came back (a deletion without a parent, `EVERY_RESOURCE`, chained every later action and issuance behind the
slowest one under way the same way). The Go runner has no such wait: each task runs in its slot at once.

A task whose turn came takes a slot again before its handler runs: the concurrency is still the most handlers that
run at once. Datadog holds a write at its door (a gate on the wire, no sleeps) while the tasks meet.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any, cast

import httpx

from connector.baton.connector import Connector
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.runtime.scheduler import Scheduler
from connector.baton.tasks.full_sync import FullSyncHandler
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from tests.baton.tasks.stubs import INSTANT, StubClient
from tests.fakes.datadog.org import Team, User
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.writes.conftest import Rig
from tests.independent.writes.wire import JSON, Action, Wire
from tests.polling import until

WAITING = "waiting for an earlier task on the same access"


def _held_at_the_door(gate: asyncio.Event, arrived: asyncio.Event) -> Action:
    """Datadog takes the request only once `gate` opens; `arrived` is set when it reaches the door."""

    async def act(request: httpx.Request, wire: Wire) -> httpx.Response:
        arrived.set()
        await gate.wait()
        status, body = await wire.forward(request)
        return httpx.Response(status, content=body, headers={"Content-Type": JSON})

    return act


async def _no_hello(task_id: str, awaiting: object) -> None:
    return None


def _polled(*tasks: baton_pb2.Task) -> list[baton_pb2.BatonServiceGetTaskResponse]:
    return [baton_pb2.BatonServiceGetTaskResponse(task=task) for task in tasks]


async def _until_stopped(stop: asyncio.Event, seconds: float) -> bool:
    """The pause after an idle poll: the script ran dry, so nothing more is polled until the test stops it."""
    await stop.wait()
    return True


def _scheduler(rig: Rig, c1: StubClient, concurrency: int) -> Scheduler:
    processor = TaskProcessor(
        c1.as_client(),
        Handlers(cast(Connector, rig.connector), provisioning=True),
        cast(FullSyncHandler, None),
        _no_hello,
        finish_retry=INSTANT,
    )
    return Scheduler(c1.as_client(), processor, concurrency=concurrency, wait=_until_stopped)


def _meeting(rig: Rig) -> tuple[Team, User, str, User]:
    """A team and a user not on it; a role and another user holding it."""
    org = rig.fake.org
    team = next(iter(org.teams.values()))
    joiner = next(u for u in org.users.values() if u.id not in team.members and not u.service_account)
    role_id = next(iter(org.roles))
    leaver = next(u for u in org.users.values() if u is not joiner and not u.service_account)
    org.assign_role(leaver.id, role_id)
    return team, joiner, role_id, leaver


async def test_a_grant_waiting_its_turn_lets_an_unrelated_revoke_be_claimed_and_run(
    rig: Rig, logs: list[MutableMapping[str, Any]]
) -> None:
    """Concurrency 2: a team member grant held by Datadog, an admin grant of the same membership handed out after it
    (it waits), then a role revoke of another user. The revoke is claimed and done while the first grant is held; it
    was not claimed at all (both slots held), and the user kept the role for as long as Datadog held the grant."""
    team, joiner, role_id, leaver = _meeting(rig)
    gate, arrived = asyncio.Event(), asyncio.Event()
    rig.wire.on("POST", f"/api/v2/team/{team.id}/memberships", _held_at_the_door(gate, arrived))
    member, admin = grant_task("team", team.id, "member", joiner.id), grant_task("team", team.id, "admin", joiner.id)
    revoke = revoke_task("role", role_id, "member", leaver.id)
    c1 = StubClient()
    c1.poll_script.extend(_polled(member, admin, revoke))
    scheduler = _scheduler(rig, c1, concurrency=2)
    stop = asyncio.Event()
    polling = asyncio.create_task(scheduler.run(stop))
    try:
        await asyncio.wait_for(arrived.wait(), 10)
        await until(lambda: any(f.task_id == revoke.id for f in c1.finishes), "the revoke was never run", within=5)
        assert [f.task_id for f in c1.finishes] == [revoke.id], "only the revoke could end while the grant was held"
        assert c1.finishes[0].ok, c1.finishes[0].message
        assert role_id not in rig.fake.org.users[leaver.id].role_ids
        assert any(e["event"] == WAITING for e in logs), "the admin grant did not wait for the member grant"
        gate.set()
        await until(lambda: len(c1.finishes) == 3, "not every task was reported", within=10)
    finally:
        gate.set()
        stop.set()
        await polling
        await scheduler.drain(5.0)
    reports = {f.task_id: f for f in c1.finishes}
    assert reports[member.id].ok
    assert reports[admin.id].ok
    assert [f.task_id for f in c1.finishes] == [revoke.id, member.id, admin.id]
    assert rig.fake.org.teams[team.id].members[joiner.id].role == "admin"


async def test_a_task_whose_turn_came_waits_for_a_free_slot_before_it_runs(rig: Rig) -> None:
    """Concurrency 2: the member grant held by Datadog, the admin grant waiting its turn, and two revokes of other
    users' roles claimed into the slots, each held by Datadog too. The member grant ends: the admin grant's turn has
    come, but both slots are the revokes', so nothing of the admin grant reaches Datadog until one of them ends (a turn
    that came does not make a third handler run beside the two slots')."""
    team, joiner, role_id, leaver = _meeting(rig)
    org = rig.fake.org
    other_role = next(r for r in org.roles if r != role_id)
    other = next(u for u in org.users.values() if u not in (joiner, leaver) and not u.service_account)
    org.assign_role(other.id, other_role)
    # The role users' rate-limit bucket learned first: until then the client lets one request of a group through at a
    # time, and the first revoke held at the door would hold the second whatever the slots.
    await rig.client.list_role_users(other_role)
    member_gate, member_arrived = asyncio.Event(), asyncio.Event()
    revoke_gate, revoke_arrived = asyncio.Event(), asyncio.Event()
    other_gate, other_arrived = asyncio.Event(), asyncio.Event()
    memberships = f"/api/v2/team/{team.id}/memberships"
    rig.wire.on("POST", memberships, _held_at_the_door(member_gate, member_arrived))
    rig.wire.on("DELETE", f"/api/v2/roles/{role_id}/users", _held_at_the_door(revoke_gate, revoke_arrived))
    rig.wire.on("DELETE", f"/api/v2/roles/{other_role}/users", _held_at_the_door(other_gate, other_arrived))
    member, admin = grant_task("team", team.id, "member", joiner.id), grant_task("team", team.id, "admin", joiner.id)
    revoke, other_revoke = (
        revoke_task("role", role_id, "member", leaver.id),
        revoke_task("role", other_role, "member", other.id),
    )
    c1 = StubClient()
    c1.poll_script.extend(_polled(member, admin, revoke, other_revoke))
    scheduler = _scheduler(rig, c1, concurrency=2)
    stop = asyncio.Event()
    polling = asyncio.create_task(scheduler.run(stop))
    try:
        await asyncio.wait_for(member_arrived.wait(), 10)
        await asyncio.wait_for(revoke_arrived.wait(), 10)
        member_gate.set()
        # The member grant reported, its slot went to the poll that claimed the second revoke.
        await asyncio.wait_for(other_arrived.wait(), 10)
        assert [f.task_id for f in c1.finishes] == [member.id]
        # The admin grant's turn has come; give it every chance to (wrongly) start beside the two revokes.
        for _ in range(50):
            await asyncio.sleep(0)
        admin_requests = [s for s in rig.wire.seen if s.path.startswith(memberships)]
        assert len(admin_requests) == 1, "the admin grant ran while the revokes held both slots"
        revoke_gate.set()
        await until(lambda: len(c1.finishes) == 3, "the revoke and the admin grant were not reported", within=10)
        assert [f.task_id for f in c1.finishes] == [member.id, revoke.id, admin.id]
        other_gate.set()
        await until(lambda: len(c1.finishes) == 4, "not every task was reported", within=10)
    finally:
        for gate in (member_gate, revoke_gate, other_gate):
            gate.set()
        stop.set()
        await polling
        await scheduler.drain(5.0)
    assert all(f.ok for f in c1.finishes), [f.message for f in c1.finishes]
    assert org.teams[team.id].members[joiner.id].role == "admin"
    assert role_id not in org.users[leaver.id].role_ids
    assert other_role not in org.users[other.id].role_ids


async def test_a_task_stopped_while_it_waits_its_turn_is_reported_unrun_and_its_slot_counted_once(rig: Rig) -> None:
    """A stop while the admin grant waits its turn (its slot lent to the poll loop): it is reported as not run,
    retryable, and the slots come back to what they were: the same scheduler, polling again, claims two tasks at once
    and no third (a slot given back twice would have made it three; one never given back, one)."""
    team, joiner, role_id, _leaver = _meeting(rig)
    org = rig.fake.org
    gate, arrived = asyncio.Event(), asyncio.Event()
    rig.wire.on("POST", f"/api/v2/team/{team.id}/memberships", _held_at_the_door(gate, arrived), times=3)
    member, admin = grant_task("team", team.id, "member", joiner.id), grant_task("team", team.id, "admin", joiner.id)
    c1 = StubClient()
    c1.poll_script.extend(_polled(member, admin))
    scheduler = _scheduler(rig, c1, concurrency=2)
    stop = asyncio.Event()
    polling = asyncio.create_task(scheduler.run(stop))
    await asyncio.wait_for(arrived.wait(), 10)
    await until(lambda: c1.polls >= 3, "the poll loop did not go on while the admin grant waited", within=10)
    stop.set()
    await polling
    await scheduler.drain(0.0, report_within=5.0)
    reports = {f.task_id: f for f in c1.finishes}
    assert set(reports) == {member.id, admin.id}
    assert not reports[admin.id].ok
    assert not reports[admin.id].non_retryable
    assert "mid-way" not in reports[admin.id].message, "the waiting grant never started, so it changed nothing"
    assert scheduler.in_flight == 0

    # Polling again: three grants of one role to three users, each held at Datadog's door.
    users = [u for u in org.users.values() if not u.service_account and role_id not in u.role_ids][:3]
    tasks = [grant_task("role", role_id, "member", user.id) for user in users]
    held = asyncio.Event()
    rig.wire.on("POST", f"/api/v2/roles/{role_id}/users", _held_at_the_door(held, asyncio.Event()), times=3)
    # The role users' bucket learned: held requests hold no other of the group.
    await rig.client.list_role_users(role_id)
    c1.poll_script.extend(_polled(*tasks))
    polls = c1.polls
    stop = asyncio.Event()
    polling = asyncio.create_task(scheduler.run(stop))
    try:
        await until(lambda: c1.polls >= polls + 2, "the two free slots were not used", within=10)
        for _ in range(50):
            await asyncio.sleep(0)
        assert c1.polls == polls + 2, "more tasks claimed than there are slots"
    finally:
        held.set()
        gate.set()
        stop.set()
        await polling
        await scheduler.drain(5.0)
