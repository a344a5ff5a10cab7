"""A report (FinishTask) against a ConductorOne that refuses it, garbles its answer, or takes it only on a later try.

What must hold whatever ConductorOne does (issue 4 item 4, issue 11 item 1): every task gets exactly one accepted
FinishTask, and every attempt of it carries the same outcome, byte for byte; the work is done once.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.c1 import FakeC1
from tests.fakes.c1.service import GARBAGE
from tests.fakes.tasks import kind_task
from tests.independent.service.rig import running, space_task

Code = grpc.StatusCode


def _attempts(fake: FakeC1, task_id: str) -> list[baton_pb2.BatonServiceFinishTaskRequest]:
    return [a for a in fake.recorded().finish_attempts if a.task_id == task_id]


def _retry_info(seconds: int, nanos: int = 0) -> bytes:
    info = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds, nanos=nanos))
    status = status_pb2.Status(code=Code.RESOURCE_EXHAUSTED.value[0], message="slow down")
    status.details.add().Pack(info)
    return status.SerializeToString()


@pytest.mark.parametrize(
    ("code", "refusals"),
    [
        (Code.UNAVAILABLE, 2),
        (Code.INTERNAL, 2),
        (Code.ABORTED, 2),
        (Code.DEADLINE_EXCEEDED, 2),
        (Code.PERMISSION_DENIED, 2),
        (Code.UNIMPLEMENTED, 2),
        (Code.NOT_FOUND, 2),  # under the 3 in a row that mean "gone"
        (Code.INVALID_ARGUMENT, 2),
        (Code.UNAUTHENTICATED, 4),  # each attempt is retried once with a fresh token: two attempts refused
        (Code.CANCELLED, 2),
        (Code.DATA_LOSS, 2),
        (Code.UNKNOWN, 2),
    ],
)
async def test_a_report_taken_only_on_the_third_try_is_the_same_report_every_time(
    tmp_path: Path, code: grpc.StatusCode, refusals: int
) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next("FinishTask", code, times=refusals)
        task = space_task("grant", "105", "editor", "ana@wiki.example")
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        attempts = _attempts(rig.fake, task.id)
        assert len(attempts) == refusals + 1
        assert len({a.SerializeToString(deterministic=True) for a in attempts}) == 1, "a retry changed the report"
        assert report.WhichOneof("final_state") == "success"
        # The grant was made once, not once per attempt.
        assert ("105", "editor", "ana@wiki.example") in rig.wiki.members
        # Counted once the client has the answer (the fake records the report before it answers).
        await rig.until("the count", lambda: rig.metric("tasks_finished_total", type="grant", outcome="success") == 1)


async def test_a_failure_report_is_also_the_same_report_every_time(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next("FinishTask", Code.UNAVAILABLE, times=2)
        task = space_task("grant", "105", "editor", "nobody@wiki.example")
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "error"
        attempts = _attempts(rig.fake, task.id)
        assert len(attempts) == 3
        assert len({a.SerializeToString(deterministic=True) for a in attempts}) == 1


@pytest.mark.parametrize(
    "details",
    [
        _retry_info(0),
        _retry_info(0, -5),
        _retry_info(-(10**9)),
        b"\xff\x00not a status",
        status_pb2.Status(code=8).SerializeToString(),
    ],
    ids=["zero", "negative-nanos", "negative", "garbage", "no-details"],
)
async def test_a_hint_of_no_wait_or_garbage_does_not_make_the_report_loop_spin(tmp_path: Path, details: bytes) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next("FinishTask", Code.RESOURCE_EXHAUSTED, times=3, status_details=details)
        task = space_task("grant", "12", "reader", "bo@wiki.example")
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success"
        # One attempt per refusal, each after the policy's backoff (full jitter: a wait may round to 0, but it is
        # never the hint's 0 repeated: the attempts are exactly the refusals plus the one taken).
        waits = [e["retry_in_seconds"] for e in rig.logged("task report failed; retrying")]
        assert len(waits) == 3
        assert sum(waits) > 0, waits
        assert len(_attempts(rig.fake, task.id)) == 4


async def test_a_report_retried_while_more_tasks_arrive_does_not_stop_them(tmp_path: Path) -> None:
    async with running(tmp_path, task_concurrency=1) as rig:
        rig.fake.fail_next("FinishTask", Code.UNAVAILABLE, times=5)
        first = space_task("grant", "105", "reader", "bo@wiki.example")
        rig.fake.enqueue(first)
        others = [space_task("grant", "7", "editor", "bo@wiki.example"), kind_task("sync_full")]
        for task in others:
            rig.fake.enqueue(task)
        for task in [first, *others]:
            assert (await rig.finished(task.id)).WhichOneof("final_state") == "success"


def _too_large_answer() -> bytes:
    """A FinishTaskResponse over the client's 32 MiB receive limit (one annotation of 33 MiB)."""
    answer = baton_pb2.BatonServiceFinishTaskResponse()
    answer.annotations.add(type_url="type.googleapis.com/google.protobuf.BytesValue", value=b"\0" * (33 << 20))
    return answer.SerializeToString()


async def test_a_report_conductorone_took_but_answered_unreadably_is_not_sent_again_nor_called_lost(
    tmp_path: Path,
) -> None:
    """The report landed (the server answered it OK with a message: a unary server sends one only on success, and
    grpc.aio decodes it only after the OK); only its answer, which carries nothing the SDK reads (§2.1: annotations),
    could not be read. Sent again, a ConductorOne that closed the task refuses it, and the daemon called a delivered
    report lost (an issued credential would be deleted though ConductorOne handed it over)."""
    async with running(tmp_path) as rig:
        rig.fake.refuse_repeated_reports()
        rig.fake.take_then_answer_raw("FinishTask", GARBAGE)
        task = space_task("grant", "105", "editor", "bo@wiki.example")
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success"
        nxt = space_task("grant", "7", "editor", "bo@wiki.example")
        rig.fake.enqueue(nxt)
        await rig.finished(nxt.id)
        assert len(_attempts(rig.fake, task.id)) == 1, "a report ConductorOne took was sent again"
        await rig.until("the count", lambda: rig.metric("tasks_finished_total", type="grant", outcome="success") == 2)
        assert not rig.logged("task not reported to ConductorOne")
        (taken,) = rig.logged("task report taken by ConductorOne; its answer could not be read")
        assert taken["log_level"] == "warning"
        assert "FinishTask" in taken["error"]
        assert rig.metric("tasks_finished_total", type="grant", outcome="unreported") == 0


@pytest.mark.parametrize("took", [True, False], ids=["answer-over-the-limit", "refusal-in-the-same-words"])
async def test_a_report_answered_over_the_receive_limit_is_sent_again(tmp_path: Path, took: bool) -> None:
    """grpc tells an answer over the client's limit as RESOURCE_EXHAUSTED, in words a server can send with a refusal of
    its own: that is no proof the report landed, so it is sent again (a copy ConductorOne already holds is at worst
    refused; a report taken as landed on a refusal would be lost, and a credential left live with nobody holding it)."""
    async with running(tmp_path) as rig:
        if took:
            rig.fake.take_then_answer_raw("FinishTask", _too_large_answer())
        else:
            rig.fake.fail_next(
                "FinishTask",
                Code.RESOURCE_EXHAUSTED,
                message="grpc: received message larger than max (40000000 vs. 33554432)",
            )
        task = space_task("grant", "105", "editor", "bo@wiki.example")
        rig.fake.enqueue(task)
        await rig.until("the report sent again", lambda: len(_attempts(rig.fake, task.id)) >= 2)
        reports = rig.fake.recorded().finish_tasks.get(task.id, [])
        assert [r.WhichOneof("final_state") for r in reports] == ["success"] * (2 if took else 1)
        assert not rig.logged("task report taken by ConductorOne; its answer could not be read")


@pytest.mark.parametrize("words", ["Exception deserializing request!", "Exception deserializing response!"])
async def test_a_server_that_could_not_read_the_report_is_quoted_not_blamed_on_its_answer(
    tmp_path: Path, words: str
) -> None:
    """A Python gRPC server that cannot decode our request answers INTERNAL "Exception deserializing request!": the
    report did not land, and is sent again. Its error named "ConductorOne's response could not be decoded", the words
    of an answer that landed, so a log reader could not tell the two apart."""
    async with running(tmp_path) as rig:
        rig.fake.fail_next("FinishTask", Code.INTERNAL, message=words)
        task = space_task("grant", "105", "editor", "bo@wiki.example")
        rig.fake.enqueue(task)
        assert (await rig.finished(task.id)).WhichOneof("final_state") == "success"
        (retried,) = rig.logged("task report failed; retrying")
        assert words in retried["error"]
        assert "could not be decoded" not in retried["error"]
