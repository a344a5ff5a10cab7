"""A stop while a just-in-time write that landed in Datadog awaits its answer: the write is abandoned with the
process, and its report is what ConductorOne hears of it. It must say what may be so (the change may be made), as the
one-shot run says it on the same signal, not only "shutting down"; a copy of the task offered again must not act twice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from connector.baton.errors import Code
from tests.fakes.datadog import FakeDatadog
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.jit.helpers import ALREADY_REVOKED, a_role, annotation_types, holds_role, ok, people
from tests.independent.jit.rig import Jit, jit
from tests.independent.service3.gates import Gate

GRACE = 0.2
ROLE_USERS = r"/api/v2/roles/[^/]+/users"


async def _stopped(rig: Jit) -> int:
    rig.stop.set()
    return await asyncio.wait_for(rig.service, timeout=30)


@pytest.mark.parametrize("kind", ["grant", "revoke"])
async def test_a_write_that_landed_and_is_stopped_awaiting_its_answer_is_reported_saying_it_may_be_made(
    tmp_path: Path, datadog: FakeDatadog, kind: str
) -> None:
    role, user = a_role(datadog), people(datadog)[0]
    if kind == "revoke":
        datadog.org.assign_role(user.id, role.id)
    task = (grant_task if kind == "grant" else revoke_task)("role", role.id, "member", user.id)
    gate = Gate()
    async with jit(tmp_path, datadog, shutdown_grace_seconds=GRACE) as rig:
        rig.wire.on("POST" if kind == "grant" else "DELETE", ROLE_USERS, gate.landed_then_held())
        rig.c1.enqueue(task)
        await asyncio.wait_for(gate.landed.wait(), timeout=30)
        assert await _stopped(rig) == 0
        (report,) = rig.c1.recorded().finish_tasks[task.id]
        failed_line = rig.logged("task failed")
    # The change is made in Datadog; ConductorOne hears a failure it may retry, told that the change may be made.
    assert holds_role(datadog, role, user) is (kind == "grant")
    assert report.status.code == int(Code.UNAVAILABLE)
    assert not report.error.non_retryable
    assert "shutting down" in report.status.message
    assert "a change it had already sent may have been made" in report.status.message, report.status.message
    assert [line["error"] for line in failed_line] == [report.status.message]


async def test_a_revoke_stopped_after_it_landed_and_offered_again_says_already_revoked_and_removes_nothing_more(
    tmp_path: Path, datadog: FakeDatadog
) -> None:
    role, user = a_role(datadog), people(datadog)[0]
    datadog.org.assign_role(user.id, role.id)
    task = revoke_task("role", role.id, "member", user.id)
    gate = Gate()
    async with jit(tmp_path, datadog, shutdown_grace_seconds=GRACE) as rig:
        rig.wire.on("DELETE", ROLE_USERS, gate.landed_then_held())
        rig.c1.enqueue(task)
        await asyncio.wait_for(gate.landed.wait(), timeout=30)
        assert await _stopped(rig) == 0
    assert not holds_role(datadog, role, user)
    # The next process is offered the same task (ConductorOne retried the failure): it acts on nothing.
    (tmp_path / "again").mkdir()
    async with jit(tmp_path / "again", datadog) as rig:
        report = await rig.run(task)
    assert ok(report), report
    assert annotation_types(report) == [ALREADY_REVOKED]
    assert [r.status for r in datadog.requests("DELETE")] == [404]  # the second process's one removal: nothing
    assert not holds_role(datadog, role, user)
