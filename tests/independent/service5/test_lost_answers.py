"""A report, or a hello task's Hello, that ConductorOne took, whose connection was then lost before the answer came
(ConductorOne's pod killed right after it handled the call, a load balancer's reset): grpc says only UNAVAILABLE
"Stream removed (Socket closed)". The retries then meet a task ConductorOne has closed (FAILED_PRECONDITION, NOT_FOUND)
and the report is given up. ConductorOne holds it: the loss line must say `may_have_landed`, as it does for an attempt
that timed out. It said only "ConductorOne no longer takes it", and the operator took a grant made in Datadog and
recorded in ConductorOne as never reported (an issued credential ConductorOne holds as never handed over). A call grpc
could not even connect for never left, and says nothing of the kind (`C1Error.may_have_landed`, `answer_lost`)."""

from __future__ import annotations

import grpc
import pytest
import structlog

from connector.baton.c1 import BatonServiceClient
from connector.baton.c1.client import MAX_ANSWER_BYTES
from connector.baton.c1.errors import answer_lost
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.baton.tasks.stubs import processor_over
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import grant_task, kind_task

LOST = "task not reported to ConductorOne"
HELLO_LOST = "hello task not answered"


_processor = processor_over


async def test_a_report_taken_then_cut_off_and_found_gone_says_it_may_have_landed(
    c1: FakeC1, client: BatonServiceClient
) -> None:
    c1.take_then_cut("FinishTask")
    c1.state.refuse_repeated_reports = True  # the task is closed: every retry is refused FAILED_PRECONDITION
    task = grant_task("role", "r1", "member", "u1")
    with structlog.testing.capture_logs() as events:
        await _processor(client).process(task)
    (held,) = c1.recorded().finish_tasks[task.id]
    assert held.WhichOneof("final_state") == "success"  # ConductorOne has the report
    (lost,) = [e for e in events if e["event"] == LOST]
    assert lost["reason"] == "ConductorOne no longer takes it"
    assert lost.get("may_have_landed") is True, lost
    # The first attempt's failure says what happened to it: ConductorOne was reached, the answer lost.
    first = next(e["error"] for e in events if e["event"] == "task report failed; retrying")
    assert "was lost before the answer came: connection closed by the peer (UNAVAILABLE)" in first, first
    assert "unreachable" not in first


async def test_a_hello_taken_then_cut_off_and_refused_on_retry_says_it_may_have_landed(
    c1: FakeC1, client: BatonServiceClient
) -> None:
    c1.take_then_cut("Hello")
    c1.fail_next("Hello", grpc.StatusCode.FAILED_PRECONDITION, message="the task is already finished")
    task = kind_task("hello")
    with structlog.testing.capture_logs() as events:
        await _processor(client).process(task)
    assert [hello.task_id for hello in c1.recorded().hellos] == [task.id]  # ConductorOne has the acknowledgement
    (lost,) = [e for e in events if e["event"] == HELLO_LOST]
    assert lost.get("may_have_landed") is True, lost


@pytest.mark.parametrize(
    ("code", "details", "lost"),
    [
        (grpc.StatusCode.UNAVAILABLE, "Stream removed (Socket closed)", True),
        (grpc.StatusCode.UNAVAILABLE, "Stream removed (recvmsg:Connection reset by peer (104))", True),
        (grpc.StatusCode.INTERNAL, "Received RST_STREAM with error code 2", True),
        (grpc.StatusCode.UNAVAILABLE, "keepalive watchdog timeout", True),
        (grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", True),
        # HTTP/2 REFUSED_STREAM: the peer did not process it.
        (grpc.StatusCode.UNAVAILABLE, "Received RST_STREAM with error code 7", False),
        # grpc could not connect at all: the call never left, whatever closed the socket it tried.
        (
            grpc.StatusCode.UNAVAILABLE,
            "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:127.0.0.1:1: Socket closed",
            False,
        ),
        (
            grpc.StatusCode.UNAVAILABLE,
            "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: Failed to connect to remote "
            "host: Connection refused",
            False,
        ),
        # A refusal only a peer sends is its answer, whatever its words say.
        (grpc.StatusCode.FAILED_PRECONDITION, "connection reset: the task is closed", False),
        # grpc maps a stream reset to a code of its own choosing (INADEQUATE_SECURITY to PERMISSION_DENIED): its
        # words of a lost stream win over the code (r1105).
        (grpc.StatusCode.NOT_FOUND, "Stream removed", True),
        (
            grpc.StatusCode.PERMISSION_DENIED,
            "Stream removed (RST_STREAM (Received RST_STREAM with error code 12))",
            True,
        ),
        (grpc.StatusCode.UNAVAILABLE, "Stream removed (RST_STREAM (Received RST_STREAM with error code 7))", False),
        (grpc.StatusCode.UNAUTHENTICATED, "Received http2 header with status: 401", False),
        (grpc.StatusCode.UNIMPLEMENTED, "Received http2 header with status: 404", False),
        # grpc's own words for a call it lost come as UNAVAILABLE, UNKNOWN, INTERNAL, RESOURCE_EXHAUSTED and CANCELLED,
        # and a peer's UNAVAILABLE cannot be told from them by its words: it may have landed (r1102: a server stopping
        # after it took the call, a gateway's 504 after it read it, an answer's metadata over the limit, a stream
        # ended mid-answer, a reset with code 71, a connection timed out under the call).
        (grpc.StatusCode.UNAVAILABLE, "the fake is having an outage", True),
        (grpc.StatusCode.UNAVAILABLE, "Cancelling all calls", True),
        (grpc.StatusCode.UNAVAILABLE, "Received http2 header with status: 504", True),
        (
            grpc.StatusCode.UNAVAILABLE,
            "upstream connect error or disconnect/reset before headers. reset reason: connection termination",
            True,
        ),
        (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "Stream removed (received metadata size exceeds hard limit (1000000 vs. 16384))",
            True,
        ),
        (grpc.StatusCode.UNKNOWN, "Stream removed (Data frame with END_STREAM flag received)", True),
        (grpc.StatusCode.INTERNAL, "Received RST_STREAM with error code 71", True),
        (grpc.StatusCode.UNAVAILABLE, "Stream removed (recvmsg:Connection timed out (110))", True),
        (grpc.StatusCode.CANCELLED, "Cancelled", True),
    ],
)
def test_which_failures_may_have_landed(code: grpc.StatusCode, details: str, lost: bool) -> None:
    assert answer_lost(code, details, connected=False) is lost


@pytest.mark.parametrize(
    "details",
    [
        "failed to connect to all addresses; last error: UNAVAILABLE: ipv4:10.0.0.9:443: Connection refused",
        "backend: failed to connect to all addresses",
    ],
)
def test_words_of_a_connection_never_made_from_a_peer_that_was_connected_may_have_landed(details: str) -> None:
    """A front end passing on its upstream's failure, after it handled the call, in grpc's words (r1105): only a call
    that began without a connection is known never to have left by them, and only when they lead."""
    assert answer_lost(grpc.StatusCode.UNAVAILABLE, details, connected=True) is True
    assert answer_lost(grpc.StatusCode.UNAVAILABLE, details, connected=False) is details.startswith("backend")


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED])
def test_a_status_the_peer_sent_with_details_did_not_land(code: grpc.StatusCode) -> None:
    """grpc never attaches `grpc-status-details-bin` to a call it lost: a status with details (a RetryInfo asking to
    slow down) is the peer's refusal, whatever its code or words."""
    assert answer_lost(code, "slow down; Stream removed", peer_status=True) is False


async def test_a_hello_answered_already_exists_is_on_record_and_not_sent_again(
    c1: FakeC1, client: BatonServiceClient
) -> None:
    """An earlier Hello of the task landed, its answer lost; the next is answered ALREADY_EXISTS, which the report table
    reads as accepted (`report_verdict`). The Hello was taken for a passing failure: sent four more times, and the task
    ended `hello task not answered` at error, counted unreported, though its acknowledgement was on record."""
    c1.fail_next("Hello", grpc.StatusCode.DEADLINE_EXCEEDED)  # its backend timed out after recording it
    c1.fail_next("Hello", grpc.StatusCode.ALREADY_EXISTS, times=10, message="the task is already acknowledged")
    task = kind_task("hello")
    with structlog.testing.capture_logs() as events:
        await _processor(client).process(task)
    assert not [e for e in events if e["log_level"] == "error"], events
    assert [e["event"] for e in events if e["event"].startswith("hello task")][-1] == "hello task answered"
    assert len(c1.recorded().calls_to("Hello")) == 2


async def test_a_report_answered_over_the_receive_limit_then_found_gone_says_it_may_have_landed(
    c1: FakeC1, client: BatonServiceClient
) -> None:
    """An answer over the client's receive limit for FinishTask (1 MiB) came from a ConductorOne that handled the report:
    it is sent again (grpc's words are no proof, a server may say them of a refusal), and when the task is then found
    closed, the report may be ConductorOne's after all."""
    answer = baton_pb2.BatonServiceFinishTaskResponse()
    answer.annotations.add(
        type_url="type.googleapis.com/google.protobuf.BytesValue", value=b"\0" * (MAX_ANSWER_BYTES + 1)
    )
    c1.take_then_answer_raw("FinishTask", answer.SerializeToString())
    c1.state.refuse_repeated_reports = True
    task = grant_task("role", "r1", "member", "u1")
    with structlog.testing.capture_logs() as events:
        await _processor(client).process(task)
    assert len(c1.recorded().finish_tasks[task.id]) == 1  # ConductorOne has the report
    (lost,) = [e for e in events if e["event"] == LOST]
    assert lost.get("may_have_landed") is True, lost


async def test_a_hello_given_up_at_the_stop_between_retries_says_the_stop_ended_it(
    c1: FakeC1, client: BatonServiceClient
) -> None:
    """A hello task's Hello refused UNAVAILABLE (a passing failure), the retry's wait running past the stop deadline:
    the Hello is given up for the stop, as a report is ("the connector is shutting down"). Its line said "ConductorOne
    did not take the Hello", blaming a refusal ConductorOne had called passing."""
    c1.fail_next("Hello", grpc.StatusCode.UNAVAILABLE, times=10, message="shedding load")
    processor = _processor(client)
    processor.stop_reporting_within(0.0)
    task = kind_task("hello")
    with structlog.testing.capture_logs() as events:
        await processor.process(task)
    (lost,) = [e for e in events if e["event"] == HELLO_LOST]
    assert lost["reason"] == "the connector is shutting down", lost
    assert "shedding load" in lost["error"]
    # An UNAVAILABLE may be grpc's word for a Hello lost under way: whether it landed is not known, and is said so.
    assert lost.get("may_have_landed") is True, lost
