"""A FinishTask ConductorOne refused in so many words (RESOURCE_EXHAUSTED with a RetryInfo: grpc never makes a
`grpc-status-details-bin`, only a peer sends one), then found gone: ConductorOne never had the report, and its loss line
does not say it may have landed (found by the review r1105 once grpc's own codes read as may have landed)."""

from __future__ import annotations

import grpc
import structlog
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from connector.baton.c1 import BatonServiceClient
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import grant_task
from tests.independent.service5.test_taken_then_lost import LOST, _processor


def _slow_down() -> bytes:
    status = status_pb2.Status(code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], message="slow down")
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(nanos=1_000_000)))
    return status.SerializeToString()


async def test_a_report_rate_limited_then_found_gone_never_landed(c1: FakeC1, client: BatonServiceClient) -> None:
    c1.fail_next("FinishTask", grpc.StatusCode.RESOURCE_EXHAUSTED, message="slow down", status_details=_slow_down())
    c1.fail_next("FinishTask", grpc.StatusCode.NOT_FOUND, times=3, message="no such task")
    task = grant_task("role", "r1", "member", "u1")
    with structlog.testing.capture_logs() as events:
        await _processor(client).process(task)
    assert not c1.recorded().finish_tasks.get(task.id)  # ConductorOne never took the report
    (lost,) = [e for e in events if e["event"] == LOST]
    assert "may_have_landed" not in lost, lost
