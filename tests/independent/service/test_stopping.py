"""A stop (what SIGTERM sets off; `run_service`'s `stop` event takes the same path) in each phase of a task, with
ConductorOne slow, silent or refusing just then.

What must hold (issue 4 item 6, issue 11 item 1, docs/service-mode.md "stop (SIGTERM)"): the runner returns 0
within the grace period plus the report's bounded extra (5 s); every task it took has exactly one accepted
FinishTask or an error line `task not reported to ConductorOne` naming it; nothing is reported twice.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from tests.fakes.c1.token_endpoint import TOKEN_HOLD
from tests.fakes.tasks import kind_task
from tests.independent.service.rig import Running, running, space_task

Code = grpc.StatusCode
GRACE = 1.0
BOUND = GRACE + 5.0 + 2.0  # the drain's promise, and slack for a loaded machine


def _left_files(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "sync.c1z"]


async def _stopped(rig: Running) -> float:
    started = time.monotonic()
    rig.stop.set()
    code = await asyncio.wait_for(rig.service, timeout=30)
    assert code == 0
    return time.monotonic() - started


def _accounted(rig: Running, task_id: str) -> str:
    """'reported' or 'lost' (one error line naming the task); fails on neither, or on two reports."""
    reports = rig.fake.recorded().finish_tasks.get(task_id, [])
    lost = [e for e in rig.logged("task not reported to ConductorOne") if e.get("task_id") == task_id]
    assert len(reports) + len(lost) == 1, (reports, lost)
    if lost:
        assert lost[0]["log_level"] == "error"
        return "lost"
    return "reported"


async def test_a_stop_while_a_grant_hangs_upstream_reports_it_retryable(tmp_path: Path) -> None:
    async with running(tmp_path, shutdown_grace_seconds=GRACE) as rig:
        rig.wiki.hold = asyncio.Event()
        task = space_task("grant", "105", "editor", "ana@wiki.example")
        rig.fake.enqueue(task)
        await asyncio.wait_for(rig.wiki.granting.wait(), timeout=10)
        assert await _stopped(rig) < BOUND
        assert _accounted(rig, task.id) == "reported"
        report = rig.fake.recorded().finish_tasks[task.id][0]
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable


async def test_a_stop_while_a_report_waits_out_a_long_retry_hint_gives_it_up_and_says_so(tmp_path: Path) -> None:
    status = status_pb2.Status(code=Code.RESOURCE_EXHAUSTED.value[0], message="later")
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=300)))
    async with running(tmp_path, shutdown_grace_seconds=GRACE) as rig:
        rig.fake.fail_next("FinishTask", Code.RESOURCE_EXHAUSTED, times=10, status_details=status.SerializeToString())
        task = space_task("grant", "12", "reader", "ana@wiki.example")
        rig.fake.enqueue(task)
        await rig.until("the refused report", lambda: rig.logged("task report failed; retrying"))
        assert await _stopped(rig) < BOUND
        assert _accounted(rig, task.id) == "lost"


async def test_a_stop_while_the_first_heartbeat_gets_no_answer(tmp_path: Path) -> None:
    async with running(tmp_path, shutdown_grace_seconds=GRACE) as rig:
        release = rig.fake.hold_next("Heartbeat")
        task = kind_task("sync_full")
        rig.fake.enqueue(task)
        await rig.until("the held heartbeat", lambda: rig.fake.recorded().calls_to("Heartbeat"))
        try:
            assert await _stopped(rig) < BOUND
        finally:
            release.set()
        assert _accounted(rig, task.id) == "reported"
        assert rig.fake.recorded().uploads == []


async def test_a_stop_while_the_upload_awaits_its_answer(tmp_path: Path) -> None:
    async with running(tmp_path, shutdown_grace_seconds=GRACE) as rig:
        rig.fake.hold_upload_answers(times=1)
        task = kind_task("sync_full")
        rig.fake.enqueue(task)
        await rig.until("the held upload", lambda: rig.fake.recorded().uploads)
        assert await _stopped(rig) < BOUND
        assert _accounted(rig, task.id) == "reported"
        report = rig.fake.recorded().finish_tasks[task.id][0]
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable
    assert _left_files(tmp_path) == []


@pytest.mark.slow  # the report keeps trying for the grace and 4 s more, by design
async def test_a_stop_while_a_report_awaits_a_token_the_endpoint_never_gives(tmp_path: Path) -> None:
    async with running(tmp_path, shutdown_grace_seconds=GRACE) as rig:
        rig.wiki.hold = asyncio.Event()
        task = space_task("grant", "7", "editor", "ana@wiki.example")
        rig.fake.enqueue(task)
        await asyncio.wait_for(rig.wiki.granting.wait(), timeout=10)
        rig.fake.revoke_tokens()
        release = rig.fake.hold_next_token_request()
        rig.wiki.hold.set()
        await rig.until("the held token request", lambda: rig.fake.state.holds_pending(TOKEN_HOLD) == 0)
        try:
            assert await _stopped(rig) < BOUND
        finally:
            release.set()
        assert _accounted(rig, task.id) == "lost"
        assert ("7", "editor", "ana@wiki.example") in rig.wiki.members


@pytest.mark.slow  # the report keeps trying for the grace and 4 s more, by design
async def test_a_stop_while_a_report_gets_no_answer(tmp_path: Path) -> None:
    async with running(tmp_path, shutdown_grace_seconds=GRACE) as rig:
        release = rig.fake.hold_next("FinishTask")
        task = space_task("revoke", "12", "editor", "bo@wiki.example")
        rig.fake.enqueue(task)
        await rig.until("the held report", lambda: rig.fake.recorded().finish_attempts)
        try:
            assert await _stopped(rig) < BOUND
        finally:
            release.set()
        assert _accounted(rig, task.id) == "lost"


async def test_a_stop_while_a_poll_gets_no_answer_takes_no_new_task(tmp_path: Path) -> None:
    async with running(tmp_path, shutdown_grace_seconds=GRACE) as rig:
        release = rig.fake.hold_next("GetTask")
        await rig.until("the held poll", lambda: rig.fake.state.holds_pending("GetTask") == 0)
        task = space_task("grant", "7", "editor", "bo@wiki.example")
        rig.fake.enqueue(task)
        try:
            assert await _stopped(rig) < BOUND
        finally:
            release.set()
        # The held poll was abandoned: the task it would have handed out was never taken.
        assert rig.wiki.writes == []


def _wait_a_minute(code: grpc.StatusCode) -> bytes:
    status = status_pb2.Status(code=code.value[0], message="later")
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=60)))
    return status.SerializeToString()


async def test_a_stop_while_the_upload_waits_out_conductorones_retry_hint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path, shutdown_grace_seconds=GRACE) as rig:
        rig.fake.fail_next(
            "UploadAsset", Code.RESOURCE_EXHAUSTED, times=1, status_details=_wait_a_minute(Code.RESOURCE_EXHAUSTED)
        )
        task = kind_task("sync_full")
        rig.fake.enqueue(task)
        await rig.until("the refused upload", lambda: rig.logged("c1 upload attempt failed, retrying"))
        assert await _stopped(rig) < BOUND
        assert _accounted(rig, task.id) == "reported"
        report = rig.fake.recorded().finish_tasks[task.id][0]
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable
    assert _left_files(tmp_path) == []
    assert "never retrieved" not in caplog.text


async def test_a_stop_while_a_hello_tasks_hello_waits_out_a_retry_hint(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path, shutdown_grace_seconds=GRACE) as rig:
        rig.fake.fail_next("Hello", Code.UNAVAILABLE, times=5, status_details=_wait_a_minute(Code.UNAVAILABLE))
        task = kind_task("hello")
        rig.fake.enqueue(task)
        await rig.until("the refused hello", lambda: rig.logged("hello task's Hello failed; retrying"))
        assert await _stopped(rig) < BOUND
        lost = [e for e in rig.logged("hello task not answered") if e.get("task_id") == task.id]
        assert len(lost) == 1
        assert lost[0]["log_level"] == "error"
    assert "never retrieved" not in caplog.text
