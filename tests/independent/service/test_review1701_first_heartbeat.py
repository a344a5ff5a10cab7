"""Review r1701 of the first Heartbeat's retry (`FIRST_HEARTBEAT_RETRY`): a stop during its pause reports the task at
once with ConductorOne's own words, and a wait ConductorOne asks for past the policy's cap is not waited at all."""

from __future__ import annotations

from pathlib import Path

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from connector.baton.tasks.full_sync import FIRST_HEARTBEAT_RETRY
from tests.fakes.tasks import kind_task
from tests.independent.service.rig import running
from tests.independent.service.test_stopping import BOUND, GRACE, _stopped

Code = grpc.StatusCode


def _asking_to_wait(seconds: int) -> bytes:
    status = status_pb2.Status(code=Code.UNAVAILABLE.value[0], message="deploying")
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
    return status.SerializeToString()


async def test_a_stop_during_the_first_heartbeats_pause_reports_the_task_at_once(tmp_path: Path) -> None:
    """The pause hears the stop: the task is reported with ConductorOne's refusal (retryable) before the grace ends,
    not held idle to its end and abandoned as "shutting down" (the stop came 20 s before the retry)."""
    async with running(tmp_path, shutdown_grace_seconds=GRACE) as rig:
        rig.fake.fail_next("Heartbeat", Code.UNAVAILABLE, times=1, status_details=_asking_to_wait(20))
        task = kind_task("sync_full")
        rig.fake.enqueue(task)
        await rig.until("the refused heartbeat", lambda: rig.logged("first heartbeat failed, retrying"))
        assert await _stopped(rig) < BOUND
        (report,) = rig.fake.recorded().finish_tasks[task.id]
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable
        assert "Heartbeat: UNAVAILABLE" in report.status.message
        assert rig.logged("abandoning tasks still running after the grace period") == []
        assert len(rig.fake.recorded().calls_to("Heartbeat")) == 1


async def test_a_first_heartbeat_asked_to_wait_past_the_cap_fails_the_sync_at_once(tmp_path: Path) -> None:
    """A RetryInfo past `max_hinted_delay` is not waited: the task goes back to ConductorOne (retryable) instead of
    holding a task slot idle for minutes."""
    past = int(FIRST_HEARTBEAT_RETRY.max_hinted_delay) + 1
    async with running(tmp_path) as rig:
        rig.fake.fail_next("Heartbeat", Code.UNAVAILABLE, times=1, status_details=_asking_to_wait(past))
        task = kind_task("sync_full")
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable
        assert len(rig.fake.recorded().calls_to("Heartbeat")) == 1
        assert rig.logged("first heartbeat failed, retrying") == []
