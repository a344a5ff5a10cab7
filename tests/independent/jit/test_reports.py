"""ConductorOne at report time, after the Datadog write was made: the report refused, ConductorOne gone, tokens
revoked, the process stopped between the write and the report. The write is made once and never again for the same
delivery; its outcome reaches ConductorOne, or an error line names the task id and the outcome."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from tests.fakes.datadog import FakeDatadog
from tests.fakes.tasks import grant_task, revoke_task
from tests.independent.jit.helpers import (
    ALREADY_EXISTS,
    ALREADY_REVOKED,
    a_role,
    a_team,
    annotation_types,
    holds_role,
    membership,
    ok,
    people,
)
from tests.independent.jit.rig import Jit, jit

LOST = "task not reported to ConductorOne"


def _role_writes(rig: Jit) -> int:
    return sum(1 for method, path in rig.wire.writes() if path.endswith("/users") and "/roles/" in path)


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
    ],
)
async def test_a_grants_report_refused_twice_arrives_once_and_the_grant_is_made_once(
    tmp_path: Path, datadog: FakeDatadog, code: grpc.StatusCode
) -> None:
    role, user = a_role(datadog), people(datadog)[0]
    async with jit(tmp_path, datadog) as rig:
        rig.c1.fail_next("FinishTask", code, times=2)
        report = await rig.run(grant_task("role", role.id, "member", user.id))
        attempts = [a for a in rig.c1.recorded().finish_attempts if a.task_id == report.task_id]
        assert _role_writes(rig) == 1
    assert ok(report), report
    assert annotation_types(report) == []
    assert holds_role(datadog, role, user)
    assert len(attempts) == 3
    assert all(a == attempts[0] for a in attempts), "every attempt carries the same report"


async def test_a_revoke_whose_task_conductorone_no_longer_knows_is_logged_lost_naming_task_and_outcome(
    tmp_path: Path, datadog: FakeDatadog
) -> None:
    user = people(datadog)[0]
    team = a_team(datadog, {user.id: "admin"})
    task = revoke_task("team", team.id, "admin", user.id)
    async with jit(tmp_path, datadog) as rig:
        rig.c1.fail_next("FinishTask", grpc.StatusCode.NOT_FOUND, times=50)
        rig.c1.enqueue(task)
        lines = await rig.until("the loss line", lambda: rig.logged(LOST))
        writes = rig.wire.writes()
    assert membership(datadog, team, user) == "member"
    assert len(writes) == 1, writes
    assert lines[0]["task_id"] == task.id
    assert lines[0]["log_level"] == "error"
    assert lines[0]["code"] == "OK"
    assert lines[0]["outcome"]
    assert task.id not in rig.c1.recorded().finish_tasks


@pytest.mark.slow  # ~6 s: the drain's own deadlines, waited out
async def test_a_stop_while_the_report_of_a_made_grant_gets_no_answer_logs_it_lost_with_its_task_id(
    tmp_path: Path, datadog: FakeDatadog
) -> None:
    """SIGTERM (the stop event) between the Datadog write and an accepted report: the drain does not wait out a
    silent ConductorOne, and the task's outcome is logged at error with its id, never dropped silently."""
    role, user = a_role(datadog), people(datadog)[0]
    task = grant_task("role", role.id, "member", user.id)
    async with jit(tmp_path, datadog, shutdown_grace_seconds=1.0) as rig:
        release = rig.c1.hold_next("FinishTask")
        try:
            rig.c1.enqueue(task)
            await rig.until("the held report", lambda: rig.c1.state.holds_pending("FinishTask") == 0)
            await rig.until("the write", lambda: holds_role(datadog, role, user))
            rig.stop.set()
            code = await asyncio.wait_for(rig.service, timeout=30)
        finally:
            release.set()
    assert code == 0
    lines = rig.logged(LOST)
    assert [line["task_id"] for line in lines] == [task.id]
    assert lines[0]["code"] == "OK"
    assert _role_writes(rig) == 1
    assert holds_role(datadog, role, user)


@pytest.mark.slow  # ~6 s: the drain's own deadlines, waited out
async def test_a_stop_while_the_report_of_a_revoke_is_refused_logs_it_lost_with_its_task_id(
    tmp_path: Path, datadog: FakeDatadog
) -> None:
    role, user = a_role(datadog), people(datadog)[0]
    datadog.org.assign_role(user.id, role.id)
    task = revoke_task("role", role.id, "member", user.id)
    async with jit(tmp_path, datadog, shutdown_grace_seconds=1.0) as rig:
        rig.c1.fail_next("FinishTask", grpc.StatusCode.UNAVAILABLE, times=10_000)
        rig.c1.enqueue(task)
        await rig.until("a refused report", lambda: rig.logged("task report failed; retrying"))
        rig.stop.set()
        code = await asyncio.wait_for(rig.service, timeout=30)
    assert code == 0
    lines = rig.logged(LOST)
    assert [line["task_id"] for line in lines] == [task.id]
    assert lines[0]["code"] == "OK"
    assert not holds_role(datadog, role, user)
    assert _role_writes(rig) == 1


async def test_two_admin_grants_of_one_membership_at_once_make_one_admin_and_say_so_once(
    tmp_path: Path, datadog: FakeDatadog
) -> None:
    user = people(datadog)[0]
    team = a_team(datadog)
    first, second = (grant_task("team", team.id, "admin", user.id) for _ in range(2))
    async with jit(tmp_path, datadog) as rig:
        rig.c1.enqueue(first)
        rig.c1.enqueue(second)
        reports = [await rig.finished(first.id), await rig.finished(second.id)]
    assert all(ok(r) for r in reports), reports
    assert membership(datadog, team, user) == "admin"
    assert sorted(ALREADY_EXISTS in annotation_types(r) for r in reports) == [False, True]


async def test_a_revoke_delivered_again_after_its_report_was_lost_says_already_revoked_and_writes_once_more(
    tmp_path: Path, datadog: FakeDatadog
) -> None:
    """ConductorOne never took the first report (gone) and offers the task again: the second run finds the role
    gone and says so; Datadog saw one removal that changed something."""
    role, user = a_role(datadog), people(datadog)[0]
    datadog.org.assign_role(user.id, role.id)
    task = revoke_task("role", role.id, "member", user.id)
    async with jit(tmp_path, datadog) as rig:
        rig.c1.fail_next("FinishTask", grpc.StatusCode.FAILED_PRECONDITION, times=3)
        rig.c1.enqueue(task)
        await rig.until("the loss line", lambda: rig.logged(LOST))
        report = await rig.run(task)
        statuses = [s.status for s in datadog.requests("DELETE")]
    assert ok(report), report
    assert annotation_types(report) == [ALREADY_REVOKED]
    assert statuses == [200, 404]
    assert not holds_role(datadog, role, user)
