"""An account creation stopped after its POST reached Datadog (SIGTERM while the answer was on its way): reported
retryable, saying the change may have been made; ConductorOne offers it again, and the next try meets the user the
first made, never invited. The last thing ConductorOne hears of the task is that refusal: it says so, and what to do
(the user may never have been invited: invite it from Datadog), not only "already exists"."""

from __future__ import annotations

import asyncio
from pathlib import Path

from connector.baton.errors import Code
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.datadog import FakeDatadog
from tests.independent.jit.rig import jit
from tests.independent.service3.gates import Gate

EMAIL = "stopped.account@example.com"
USERS = r"/api/v2/users"


def _account_task() -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.create_account.resource_type_id = "user"
    task.create_account.account_info.profile.update({"email": EMAIL, "name": "Stopped Account"})
    return task


async def test_an_account_stopped_after_it_was_created_and_offered_again_says_to_invite_the_pending_user(
    tmp_path: Path, datadog: FakeDatadog
) -> None:
    task, gate = _account_task(), Gate()
    async with jit(tmp_path, datadog, shutdown_grace_seconds=0.2) as rig:
        rig.wire.on("POST", USERS, gate.landed_then_held())
        rig.c1.enqueue(task)
        await asyncio.wait_for(gate.landed.wait(), timeout=30)
        rig.stop.set()
        assert await asyncio.wait_for(rig.service, timeout=30) == 0
        (first,) = rig.c1.recorded().finish_tasks[task.id]
    assert not first.error.non_retryable
    assert "may have been made" in first.status.message
    created = datadog.org.user_by_email(EMAIL)
    assert created is not None
    assert created.status == "Pending"
    (tmp_path / "again").mkdir()
    async with jit(tmp_path / "again", datadog) as rig:
        again = await rig.run(task)
        writes = rig.wire.writes()
    assert again.status.code == int(Code.ALREADY_EXISTS)
    assert again.error.non_retryable
    assert "no invitation was sent" in again.status.message
    assert "it may never have been invited, so send the invitation from there" in again.status.message
    assert [w for w in writes if w[0] == "POST"] == [("POST", "/api/v2/users")]
