"""Guards the class "an answer meaning no work is idle however it is read": a GetTask answer whose task is a `none`
task (§2.3: "means no work", treated like an empty poll, §3.2 step 6) is idle whether it decodes whole or only in part
(`salvage`: a bad string in one of its annotations). Read in part, it was taken for a task that could not be decoded
and reported: a FinishTask INVALID_ARGUMENT, non-retryable, "malformed task", for an answer that held no task at all,
counted as a failed task and logged as one; Go's poll reads it as no work or fails the poll, and never reports it."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import any_pb2

from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.tasks import BAD_UTF8_MARK, kind_task, with_bad_utf8
from tests.independent.service.rig import running


def _idle_answer(task_id: str) -> bytes:
    """A GetTask answer whose `none` task carries `task_id` (none when empty) and an annotation whose type URL is no
    UTF-8."""
    answer = baton_pb2.BatonServiceGetTaskResponse()
    answer.task.id = task_id
    answer.task.none.annotations.append(any_pb2.Any(type_url=BAD_UTF8_MARK))
    answer.next_poll.FromMilliseconds(10)
    return with_bad_utf8(answer)


@pytest.mark.parametrize("with_id", [True, False], ids=["with-id", "without-id"])
async def test_a_none_task_that_does_not_decode_whole_is_idle_not_a_task_reported_failed_nor_a_failed_poll(
    tmp_path: Path, with_id: bool
) -> None:
    async with running(tmp_path) as rig:
        idle_id = new_ksuid() if with_id else ""
        rig.fake.answer_raw("GetTask", _idle_answer(idle_id), times=3)
        # All three read before the task is queued: a poll already past the fake's raw answers when they were queued
        # would take the task first, and the checks below would run before the idle answers were read.
        await rig.until(
            "the three idle answers read",
            lambda: rig.metric("conductorone_answers_partly_read_total", method="GetTask") >= 3,
        )
        after = kind_task("action_list_schemas")
        rig.fake.enqueue(after)
        await rig.finished(after.id)  # and the poll after them took this task
        assert idle_id not in [a.task_id for a in rig.fake.recorded().finish_attempts]
        assert not [e for e in rig.events if e.get("task_id") == idle_id]
        assert rig.metric("tasks_received_total", task_type="none") == 0
        assert not rig.logged("polling ConductorOne failed")
        assert not rig.logged("invalid task from ConductorOne; not executed, cannot be reported")
