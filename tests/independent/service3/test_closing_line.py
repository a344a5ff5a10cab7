"""The runner's closing line after a stop says whether every task it ran reached ConductorOne: a report given up (at
the stop deadline, or as gone mid-run) leaves a write ConductorOne never heard of, and a closing `stopped` at info,
after an exit code of 0, read as a clean drain to whoever looks at the pod's last lines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from tests.independent.service.rig import Running, running, space_task

LOST = "task not reported to ConductorOne"


async def _closing_line(rig: Running) -> dict[str, object]:
    rig.stop.set()
    assert await asyncio.wait_for(rig.service, timeout=30) == 0
    (stopped,) = rig.logged("stopped")
    assert stopped is rig.events[-1], rig.events[-3:]
    return dict(stopped)


async def test_a_stop_that_gives_up_a_report_closes_at_error_counting_it(tmp_path: Path) -> None:
    status = status_pb2.Status(code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], message="later")
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=300)))
    async with running(tmp_path, shutdown_grace_seconds=0.5) as rig:
        rig.fake.fail_next(
            "FinishTask", grpc.StatusCode.RESOURCE_EXHAUSTED, times=10, status_details=status.SerializeToString()
        )
        task = space_task("revoke", "12", "editor", "bo@wiki.example")
        rig.fake.enqueue(task)
        await rig.until("the refused report", lambda: rig.logged("task report failed; retrying"))
        line = await _closing_line(rig)
        assert [e["task_id"] for e in rig.logged(LOST)] == [task.id]
    assert line["log_level"] == "error"
    assert line["tasks_unreported"] == 1


async def test_a_report_given_up_mid_run_is_counted_in_the_closing_line_of_a_later_stop(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next("FinishTask", grpc.StatusCode.FAILED_PRECONDITION, times=3)
        lost = space_task("grant", "105", "reader", "ana@wiki.example")
        rig.fake.enqueue(lost)
        await rig.until("the loss line", lambda: rig.logged(LOST))
        reported = space_task("grant", "105", "reader", "bo@wiki.example")
        rig.fake.enqueue(reported)
        await rig.finished(reported.id)
        line = await _closing_line(rig)
    assert line["log_level"] == "error"
    assert line["tasks_unreported"] == 1


async def test_a_stop_after_every_task_was_reported_closes_at_info(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        task = space_task("grant", "105", "reader", "ana@wiki.example")
        rig.fake.enqueue(task)
        await rig.finished(task.id)
        line = await _closing_line(rig)
    assert line["log_level"] == "info"
    assert line["tasks_unreported"] == 0
