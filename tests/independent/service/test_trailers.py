"""Status details (the `grpc-status-details-bin` trailer) of every kind on every RPC: garbage, a Status of many
details of unknown types, a RetryInfo of absurd size, a large trailer. Nothing of it may crash a loop, make it spin,
or hold it past its policy's cap; every task is still reported once.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from tests.fakes.tasks import kind_task
from tests.independent.service.rig import running, space_task

Code = grpc.StatusCode


def _status(*details: any_pb2.Any, message: str = "x") -> bytes:
    status = status_pb2.Status(code=Code.UNAVAILABLE.value[0], message=message)
    status.details.extend(details)
    return status.SerializeToString()


def _retry(seconds: int, nanos: int = 0) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds, nanos=nanos)))
    return packed


DETAILS = {
    "garbage": b"\xff\xff\xff\xff",
    "empty": b"",
    "unknown-types": _status(*[any_pb2.Any(type_url=f"type.googleapis.com/x.Y{i}", value=b"\x01") for i in range(500)]),
    "retry-info-undecodable": _status(any_pb2.Any(type_url=_retry(1).type_url, value=b"\xff")),
    "retry-info-negative": _status(_retry(-(10**12), -999_999_999)),
    "two-retry-infos": _status(_retry(0), _retry(1)),
    "large": _status(message="m" * 6000),
}


@pytest.mark.parametrize("details", list(DETAILS.values()), ids=list(DETAILS))
@pytest.mark.parametrize("method", ["GetTask", "FinishTask", "Heartbeat", "UploadAsset"])
async def test_any_status_details_on_any_rpc_leave_every_task_reported_once(
    tmp_path: Path, method: str, details: bytes
) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next(method, Code.UNAVAILABLE, times=1, status_details=details)
        grant = space_task("grant", "105", "editor", "ana@wiki.example")
        sync = kind_task("sync_full")
        rig.fake.enqueue(grant)
        rig.fake.enqueue(sync)
        assert (await rig.finished(grant.id)).WhichOneof("final_state") == "success"
        report = await rig.finished(sync.id)
        # A first Heartbeat refused once is sent again (`FIRST_HEARTBEAT_RETRY`, docs/service-mode.md), as every
        # other call here is retried: the sync runs.
        assert report.WhichOneof("final_state") == "success", report
        waits = [
            e.get("retry_in_seconds", e.get("retry_in"))
            for e in rig.events
            if str(e.get("event", "")).endswith("retrying") or e.get("event") == "polling ConductorOne failed"
        ]
        assert all(w is None or 0 <= w <= 300 for w in waits), waits


async def test_a_retry_hint_of_thirty_thousand_years_is_capped_and_the_upload_gives_up_on_it(tmp_path: Path) -> None:
    """Honoured up to the policies' cap (300 s, docs/service-mode.md "Who retries what"); the upload, a bounded loop,
    gives up on a hint past it and the sync fails retryably."""
    absurd = _status(_retry(10**12))
    async with running(tmp_path) as rig:
        rig.fake.fail_next("GetTask", Code.UNAVAILABLE, times=1, status_details=absurd)
        await rig.until("the refused poll", lambda: rig.logged("polling ConductorOne failed"))
        assert rig.logged("polling ConductorOne failed")[0]["retry_in_seconds"] == 300
    async with running(tmp_path) as rig:
        rig.fake.fail_next("UploadAsset", Code.UNAVAILABLE, times=1, status_details=absurd)
        report = await rig.finished(rig.fake.enqueue(kind_task("sync_full")))
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable
