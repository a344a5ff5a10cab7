"""A chain of tasks on one access (docs/service-mode.md "Task order") longer than the task slots never stops the
daemon: each waiting task keeps its slot, so the head of the chain always holds one and every task ends.

Review r1703 proved the lent-slot design wrong: a waiting task lent its slot to the poll loop and took one again when
its turn came, but the slot the head freed went to the poll loop, queued ahead of it, which claimed another task of
the chain; past the lending cap every slot was held by a task waiting for the one that waited for a slot, for good.
Datadog holds the first write at its door (a gate on the wire, no sleeps).
"""

from __future__ import annotations

import asyncio
from typing import cast

from connector.baton.connector import Connector
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.runtime.scheduler import Scheduler
from connector.baton.tasks.full_sync import FullSyncHandler
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from tests.baton.tasks.stubs import INSTANT, StubClient
from tests.fakes.datadog.org import Team, User
from tests.fakes.tasks import grant_task
from tests.independent.meets.shared import held_at_the_door
from tests.independent.writes.conftest import Rig
from tests.polling import until


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


async def _chain(rig: Rig, n: int, concurrency: int) -> None:
    team, joiner, _role, _leaver = _meeting(rig)
    gate, arrived = asyncio.Event(), asyncio.Event()
    rig.wire.on("POST", f"/api/v2/team/{team.id}/memberships", held_at_the_door(gate, arrived), times=1)
    # One access, n times (ConductorOne handing out grants of one membership, member and admin in turn).
    tasks = [grant_task("team", team.id, "member" if i % 2 == 0 else "admin", joiner.id) for i in range(n)]
    c1 = StubClient()
    c1.poll_script.extend(_polled(*tasks))
    scheduler = _scheduler(rig, c1, concurrency=concurrency)
    stop = asyncio.Event()
    polling = asyncio.create_task(scheduler.run(stop))
    try:
        await asyncio.wait_for(arrived.wait(), 10)
        # The door opens only once every slot is held and the poll loop waits for one (review r1705: opened at once,
        # the chain never filled the slots, and the test passed on the lending code it disproves).
        await until(
            lambda: scheduler._slots.locked() and scheduler._processor.running == concurrency,
            "the slots were never all taken by the chain",
            within=10,
        )
        gate.set()
        await until(lambda: len(c1.finishes) == n, "a task of the chain never ran: the daemon is stuck", within=20)
        assert all(f.ok for f in c1.finishes), [f.message for f in c1.finishes if not f.ok]
    finally:
        gate.set()
        stop.set()
        await polling
        await scheduler.drain(0.0, report_within=2.0)


async def test_a_chain_longer_than_the_slots_ends_at_concurrency_2(rig: Rig) -> None:
    await _chain(rig, n=19, concurrency=2)


async def test_a_chain_longer_than_the_slots_ends_at_the_default_concurrency(rig: Rig) -> None:
    await _chain(rig, n=20, concurrency=3)
