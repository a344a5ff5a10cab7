"""ConductorOne's answers to the calls that carry only annotations (Hello, Heartbeat, FinishTask, UploadAsset: spec
§2.2) are refused past `MAX_ANSWER_BYTES` (1 MiB), named as the GetTask answer over its 32 MiB limit is, and the task
they belong to keeps its outcome: a report so answered is sent again, never taken for a request ConductorOne refused
as too large (that would undo a grant that was made). Under the GetTask limit, a 32 MiB answer to each heartbeat of
100 running tasks was 3.2 GiB at once. Metadata is bounded by grpc's own 16 KiB limit: named, and a report so
answered is sent again too.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

import pytest
from google.protobuf import any_pb2

from connector.baton.c1 import BatonServiceClient, C1ResponseTooLargeError, C1TransientError, RpcResult
from connector.baton.c1.client import MAX_ANSWER_BYTES
from connector.baton.connector import Connector
from connector.baton.pb.c1.connector.v2 import connector_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks.full_sync import FullSyncHandler
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.processor import TaskProcessor
from tests.baton.c1.conftest import make_client
from tests.baton.tasks.stubs import INSTANT, StubConnector, StubFullSync
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import grant_task, kind_task

METADATA = connector_pb2.ConnectorMetadata(display_name="Test connector", description="for tests")


Annotated = (
    baton_pb2.BatonServiceHelloResponse
    | baton_pb2.BatonServiceHeartbeatResponse
    | baton_pb2.BatonServiceFinishTaskResponse
    | baton_pb2.BatonServiceUploadAssetResponse
)


def _padded(message: Annotated, size: int) -> bytes:
    """A `message` (a response of annotations) with one annotation of `size` bytes: a valid answer, only large."""
    padded = type(message)()
    padded.annotations.append(any_pb2.Any(type_url="type.googleapis.com/x.Padding", value=b"p" * size))
    return padded.SerializeToString()


async def _no_hello(task_id: str, awaiting: object) -> None:
    return None


CALLS: dict[str, tuple[Annotated, Callable[[BatonServiceClient], Awaitable[object]]]] = {
    "Hello": (baton_pb2.BatonServiceHelloResponse(), lambda client: client.hello(METADATA)),
    "Heartbeat": (
        baton_pb2.BatonServiceHeartbeatResponse(),
        lambda client: client.heartbeat(kind_task("sync_full").id),
    ),
    "FinishTask": (
        baton_pb2.BatonServiceFinishTaskResponse(),
        lambda client: client.finish_task(kind_task("sync_full").id),
    ),
}


@pytest.mark.parametrize("method", sorted(CALLS))
async def test_an_answer_of_annotations_over_a_mebibyte_is_refused_and_named(fake: FakeC1, method: str) -> None:
    response, call = CALLS[method]
    fake.answer_raw(method, _padded(response, MAX_ANSWER_BYTES), times=1)
    fake.answer_raw(method, _padded(response, MAX_ANSWER_BYTES - 1024), times=1)
    results: list[RpcResult] = []
    async with make_client(fake, on_call=results.append) as client:
        with pytest.raises(C1ResponseTooLargeError) as refused:
            await call(client)
        await call(client)  # just under the limit: taken
    assert refused.value.method == method
    assert refused.value.limit == MAX_ANSWER_BYTES
    assert str(refused.value).startswith(f"{method}: ConductorOne's answer of ")
    assert f"over the client's {MAX_ANSWER_BYTES}-byte gRPC message limit for it" in str(refused.value)
    assert [(r.method, r.code, r.too_large) for r in results if r.method == method] == [
        (method, "RESOURCE_EXHAUSTED", True),
        (method, "OK", False),
    ]


async def test_an_upload_answered_over_a_mebibyte_is_tried_again_not_taken_for_arrived(
    fake: FakeC1, tmp_path: Path
) -> None:
    data = os.urandom(4096)
    (tmp_path / "sync.c1z").write_bytes(data)
    fake.answer_raw("UploadAsset", _padded(baton_pb2.BatonServiceUploadAssetResponse(), MAX_ANSWER_BYTES), times=1)
    results: list[RpcResult] = []
    async with make_client(fake, on_call=results.append) as client:
        assert await client.upload_asset(kind_task("sync_full").id, tmp_path / "sync.c1z") == len(data)
    assert [(r.code, r.too_large) for r in results if r.method == "UploadAsset"] == [
        ("RESOURCE_EXHAUSTED", True),
        ("OK", False),
    ]
    (upload,) = fake.recorded().uploads  # the first attempt's stream was answered by the raw script, unrecorded
    assert upload.ok
    assert upload.size == len(data)


def _flood_answer(fake: FakeC1) -> None:
    fake.take_then_answer_raw(
        "FinishTask", _padded(baton_pb2.BatonServiceFinishTaskResponse(), MAX_ANSWER_BYTES), times=1
    )


def _flood_metadata(fake: FakeC1) -> None:
    fake.flood_metadata("FinishTask", trailer_bytes=1_000_000, times=1)


@pytest.mark.parametrize("flood", [_flood_answer, _flood_metadata], ids=["answer", "trailer"])
async def test_a_grant_whose_report_is_answered_with_a_flood_is_reported_again_not_undone(
    fake: FakeC1, flood: Callable[[FakeC1], None]
) -> None:
    """ConductorOne took the report, and its answer was too large to read: nothing proves it landed, so it is sent
    again; the grant, made, is not undone (the remedy of a report ConductorOne refused as too large) nor reported
    failed."""
    task = grant_task("role", "admin", "member", "user-1")
    fake.enqueue(task)
    flood(fake)
    connector = StubConnector()
    async with make_client(fake) as client:
        processor = TaskProcessor(
            client,
            Handlers(cast(Connector, connector), provisioning=True),
            cast(FullSyncHandler, StubFullSync()),
            _no_hello,
            finish_retry=INSTANT,
        )
        answer = await client.get_task()
        await asyncio.wait_for(processor.process(answer.task), timeout=30)
    assert connector.provisioning.calls == ["grant"]
    reports = fake.recorded().finish_tasks[task.id]
    assert len(reports) == 2
    assert all(report.HasField("success") for report in reports)


async def test_an_answer_with_ten_thousand_metadata_entries_is_refused_by_grpcs_limit_and_named(
    fake: FakeC1,
) -> None:
    fake.flood_metadata("GetTask", entries=10_000, times=1)
    async with make_client(fake) as client:
        with pytest.raises(C1TransientError) as refused:
            await client.get_task()
        await client.get_task()  # the next poll is answered as usual
    assert str(refused.value).startswith("GetTask: RESOURCE_EXHAUSTED: ")
    assert "metadata size exceeds hard limit" in str(refused.value)
    assert len(str(refused.value)) < 600
