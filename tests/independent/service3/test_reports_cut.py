"""A report given up at the stop deadline, or cancelled, after a FinishTask of it went out unanswered: ConductorOne
may hold it after all (a FinishTask answered OK after the lease, a server that took it and then went silent). The
loss line says so (`may_have_landed`, docs/runbook.md), as it does for a task found gone after a timed-out attempt;
one whose FinishTask never left (its token never came) says nothing of the kind."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
import structlog

from connector.baton.c1.errors import C1TransientError
from tests.baton.tasks.stubs import make_rig
from tests.fakes.c1.token_endpoint import TOKEN_HOLD
from tests.fakes.tasks import grant_task
from tests.independent.service.rig import running, space_task

LOST = "task not reported to ConductorOne"
GRANT = ("role", "r1", "member", "u1")


async def test_a_report_whose_finish_task_awaits_its_answer_at_the_stop_deadline_may_have_landed() -> None:
    rig = make_rig()
    rig.client.finish_gate = asyncio.Event()  # ConductorOne took the FinishTask and says nothing
    task = grant_task(*GRANT)
    with structlog.testing.capture_logs() as events:
        processing = asyncio.create_task(rig.processor.process(task))
        await rig.client.wait_finish_attempts(1)
        rig.processor.stop_reporting_within(0.02)
        await processing
    (lost,) = [e for e in events if e["event"] == LOST]
    assert lost["task_id"] == task.id
    assert lost["may_have_landed"] is True


async def test_a_report_cancelled_while_its_finish_task_awaits_its_answer_may_have_landed() -> None:
    rig = make_rig()
    rig.client.finish_gate = asyncio.Event()
    task = grant_task(*GRANT)
    with structlog.testing.capture_logs() as events:
        processing = asyncio.create_task(rig.processor.process(task))
        await rig.client.wait_finish_attempts(1)
        processing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await processing
    (lost,) = [e for e in events if e["event"] == LOST]
    assert lost["may_have_landed"] is True


async def test_a_report_given_up_at_the_stop_after_an_attempt_timed_out_unanswered_may_have_landed() -> None:
    rig = make_rig()
    timed_out = C1TransientError("FinishTask: DEADLINE_EXCEEDED", code=grpc.StatusCode.DEADLINE_EXCEEDED)
    refused = C1TransientError("FinishTask: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE)
    rig.client.finish_script.extend([timed_out] + [refused] * 1_000)
    task = grant_task(*GRANT)
    with structlog.testing.capture_logs() as events:
        processing = asyncio.create_task(rig.processor.process(task))
        await rig.client.wait_finish_attempts(3)
        rig.processor.stop_reporting_within(0.02)
        await processing
    (lost,) = [e for e in events if e["event"] == LOST]
    assert lost["may_have_landed"] is True


async def test_a_report_refused_every_time_and_given_up_at_the_stop_never_landed() -> None:
    rig = make_rig()
    refused = C1TransientError("FinishTask: UNAVAILABLE", code=grpc.StatusCode.UNAVAILABLE)
    rig.client.finish_script.extend([refused] * 1_000)
    with structlog.testing.capture_logs() as events:
        processing = asyncio.create_task(rig.processor.process(grant_task(*GRANT)))
        await rig.client.wait_finish_attempts(3)
        rig.processor.stop_reporting_within(0.02)
        await processing
    (lost,) = [e for e in events if e["event"] == LOST]
    assert "may_have_landed" not in lost


@pytest.mark.slow  # the report keeps trying for the grace and 4 s more, by design
async def test_a_stop_while_conductorone_holds_a_report_says_it_may_have_landed(tmp_path: Path) -> None:
    async with running(tmp_path, shutdown_grace_seconds=0.2) as rig:
        release = rig.fake.hold_next("FinishTask")
        task = space_task("revoke", "12", "editor", "bo@wiki.example")
        rig.fake.enqueue(task)
        await rig.until("the held report", lambda: rig.fake.recorded().finish_attempts)
        try:
            rig.stop.set()
            assert await asyncio.wait_for(rig.service, timeout=30) == 0
        finally:
            release.set()
        (lost,) = rig.logged(LOST)
    assert lost["may_have_landed"] is True


@pytest.mark.slow  # the report keeps trying for the grace and 4 s more, by design
async def test_a_stop_while_a_report_waits_for_its_token_says_nothing_of_landing(tmp_path: Path) -> None:
    async with running(tmp_path, shutdown_grace_seconds=0.2) as rig:
        rig.wiki.hold = asyncio.Event()
        task = space_task("grant", "7", "editor", "ana@wiki.example")
        rig.fake.enqueue(task)
        await asyncio.wait_for(rig.wiki.granting.wait(), timeout=10)
        rig.fake.set_token_expiry(0, token_lifetime=3600)  # so the report's token is fetched for it, and held
        rig.fake.revoke_tokens()
        release = rig.fake.hold_next_token_request()
        rig.wiki.hold.set()
        await rig.until("the held token request", lambda: rig.fake.state.holds_pending(TOKEN_HOLD) == 0)
        try:
            rig.stop.set()
            assert await asyncio.wait_for(rig.service, timeout=30) == 0
        finally:
            release.set()
        (lost,) = rig.logged(LOST)
    assert "may_have_landed" not in lost  # its one FinishTask that went out was refused (the revoked token)
    assert task.id not in rig.fake.recorded().finish_tasks
