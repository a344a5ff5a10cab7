"""A full sync's conversation with a hostile ConductorOne: its Heartbeats and its UploadAsset answered with every
status code, garbage, `cancelled`, a GOAWAY mid-stream, or never (docs/spec/service-mode.md §3.6, §3.7).

What must hold: the sync task ends in exactly one accepted FinishTask; a failure ConductorOne can retry is reported
retryable; a task ConductorOne cancelled is not reported as a success; no more than the spec's three upload attempts;
no working file is left behind.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from connector.baton.c1z.reader import C1ZReader
from connector.baton.tasks.full_sync import FIRST_HEARTBEAT_RETRY
from tests.baton.second_connector.wiki import SpaceSyncer
from tests.fakes.tasks import kind_task
from tests.independent.service.rig import Running, running

Code = grpc.StatusCode


def _left_files(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "sync.c1z"]


async def _sync(rig: Running) -> str:
    return rig.fake.enqueue(kind_task("sync_full"))


@pytest.mark.parametrize(
    ("code", "times"),
    [
        # Transient: the first Heartbeat is sent FIRST_HEARTBEAT_RETRY.max_attempts times before the sync fails.
        (Code.UNAVAILABLE, FIRST_HEARTBEAT_RETRY.max_attempts),
        (Code.NOT_FOUND, 1),
        (Code.PERMISSION_DENIED, 1),
        (Code.INVALID_ARGUMENT, 1),
        (Code.RESOURCE_EXHAUSTED, FIRST_HEARTBEAT_RETRY.max_attempts),
        (Code.FAILED_PRECONDITION, 1),
        (Code.UNAUTHENTICATED, 2),  # refused again with a fresh token: a refusal, not retried
        (Code.INTERNAL, FIRST_HEARTBEAT_RETRY.max_attempts),
    ],
)
async def test_a_refused_first_heartbeat_fails_the_sync_retryably_once_and_uploads_nothing(
    tmp_path: Path, code: grpc.StatusCode, times: int
) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next("Heartbeat", code, times=times)
        task_id = await _sync(rig)
        report = await rig.finished(task_id)
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable, report
        assert report.status.code != 0
        assert "Heartbeat" in report.status.message
        assert rig.fake.recorded().uploads == []
        assert len(rig.fake.recorded().calls_to("Heartbeat")) == times
        # The next sync, with ConductorOne answering again, goes through.
        again = await rig.finished(await _sync(rig))
        assert again.WhichOneof("final_state") == "success"
    assert _left_files(tmp_path) == []


async def test_a_first_heartbeat_refused_once_is_sent_again_and_the_sync_runs(tmp_path: Path) -> None:
    """A ConductorOne deploy's UNAVAILABLE at the first Heartbeat costs a pause, not the sync's turn."""
    async with running(tmp_path) as rig:
        rig.fake.fail_next("Heartbeat", Code.UNAVAILABLE, times=FIRST_HEARTBEAT_RETRY.max_attempts - 1)
        report = await rig.finished(await _sync(rig))
        assert report.WhichOneof("final_state") == "success", report
        assert len(rig.fake.recorded().uploads) == 1
    assert _left_files(tmp_path) == []


async def test_a_first_heartbeat_that_never_decodes_fails_the_sync_retryably(tmp_path: Path) -> None:
    """An answer that does not decode is a transient failure (a Heartbeat may be sent again): retried, then the sync
    fails retryably."""
    async with running(tmp_path) as rig:
        rig.fake.answer_garbage("Heartbeat", times=FIRST_HEARTBEAT_RETRY.max_attempts)
        report = await rig.finished(await _sync(rig))
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable
        assert rig.fake.recorded().uploads == []


async def test_a_task_cancelled_before_its_first_heartbeat_is_not_run_and_reported_cancelled(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        task = kind_task("sync_full")
        rig.fake.cancel_task(task.id)
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "error"
        assert report.status.code == Code.CANCELLED.value[0]
        assert rig.fake.recorded().uploads == []


async def test_a_task_cancelled_during_its_upload_is_not_reported_a_success(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.fake.set_polling(next_heartbeat=1.0)
        rig.fake.hold_upload_answers(times=1)
        task = kind_task("sync_full")
        rig.fake.enqueue(task)
        await rig.until("the upload", lambda: rig.fake.recorded().uploads)
        rig.fake.cancel_task(task.id)
        report = await rig.finished(task.id, within=20)
        assert report.WhichOneof("final_state") == "error"
        assert report.status.code == Code.CANCELLED.value[0]
        assert report.error.non_retryable
    assert _left_files(tmp_path) == []


@pytest.mark.parametrize(
    "code",
    [Code.UNAVAILABLE, Code.INTERNAL, Code.INVALID_ARGUMENT, Code.RESOURCE_EXHAUSTED, Code.DATA_LOSS, Code.ABORTED],
)
async def test_an_upload_refused_every_time_is_tried_three_times_then_reported_retryable(
    tmp_path: Path, code: grpc.StatusCode
) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next("UploadAsset", code, times=3)
        report = await rig.finished(await _sync(rig))
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable
        # At most the spec's three attempts (§3.7); a refusal no retry can change may end them sooner.
        assert 1 <= len(rig.fake.recorded().calls_to("UploadAsset")) <= 3
    assert _left_files(tmp_path) == []


async def test_an_upload_taken_on_the_third_try_is_whole_and_reported_once(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next("UploadAsset", Code.UNAVAILABLE, times=2)
        task_id = await _sync(rig)
        report = await rig.finished(task_id)
        assert report.WhichOneof("final_state") == "success"
        uploads = [u for u in rig.fake.recorded().uploads if u.ok]
        assert len(uploads) == 1
        assert uploads[0].task_id == task_id
        assert uploads[0].received_sha256 == uploads[0].computed_sha256
        assert uploads[0].path is not None
        with C1ZReader(uploads[0].path) as reader:
            assert reader.sync_runs()


async def test_an_upload_answered_ok_with_garbage_is_not_taken_for_an_upload(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.fake.answer_garbage("UploadAsset", times=3)
        report = await rig.finished(await _sync(rig))
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable


def _cut_connections(rig: Running) -> None:
    """ConductorOne's connections are cut (a restart, a load balancer's reset); new ones are taken at once."""
    rig.fake.start_outage("refuse", seconds=0.0)


async def test_a_connection_cut_while_the_upload_awaits_its_answer_is_retried_and_the_sync_reported_once(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as rig:
        rig.fake.hold_upload_answers(times=1)
        task_id = await _sync(rig)
        await rig.until("the held upload", lambda: rig.fake.recorded().uploads)
        _cut_connections(rig)
        report = await rig.finished(task_id)
        assert report.WhichOneof("final_state") == "success", report
        assert 2 <= len(rig.fake.recorded().calls_to("UploadAsset")) <= 3


@pytest.mark.parametrize("code", [Code.UNAVAILABLE, Code.NOT_FOUND, Code.UNAUTHENTICATED])
async def test_periodic_heartbeats_failing_a_few_times_do_not_stop_the_sync(
    tmp_path: Path, code: grpc.StatusCode
) -> None:
    async with running(tmp_path) as rig:
        rig.fake.set_polling(next_heartbeat=1.0)
        rig.fake.hold_upload_answers(times=1)
        task_id = await _sync(rig)
        await rig.until("the held upload", lambda: rig.fake.recorded().uploads)
        rig.fake.fail_next("Heartbeat", code, times=2 if code != Code.UNAUTHENTICATED else 4)
        await rig.until("two failed heartbeats", lambda: len(rig.logged("heartbeat failed")) >= 2, within=10)
        _cut_connections(rig)  # ends the held upload: it is tried again
        report = await rig.finished(task_id, within=20)
        assert report.WhichOneof("final_state") == "success", report


@pytest.mark.parametrize("error_code", [0, 2], ids=["NO_ERROR", "INTERNAL_ERROR"])
async def test_a_goaway_that_ends_the_upload_in_flight_is_retried_and_the_sync_reported_once(
    tmp_path: Path, error_code: int
) -> None:
    async with running(tmp_path) as rig:
        rig.fake.hold_upload_answers(times=1)
        task_id = await _sync(rig)
        await rig.until("the held upload", lambda: rig.fake.recorded().uploads)
        # Stream 0: no stream of the connection was processed, the held upload included (a server going away).
        rig.fake.send_goaway(error_code=error_code, debug=b"deploy", last_stream_id=0)
        report = await rig.finished(task_id)
        assert report.WhichOneof("final_state") == "success", report
        assert 2 <= len(rig.fake.recorded().calls_to("UploadAsset")) <= 3


async def test_a_sync_naming_resource_types_or_targets_the_connector_lacks_is_reported_once_and_uploads_nothing(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as rig:
        unknown_type = kind_task("sync_full")
        unknown_type.sync_full.sync_resource_type_ids.extend(["no_such_type", "\x1b[2J" * 1000])
        unknown_target = kind_task("sync_full")
        target = unknown_target.sync_full.targeted_sync_resources.add()
        target.id.resource_type, target.id.resource = "no_such_type", "x" * 100_000
        empty_target = kind_task("sync_full")
        empty_target.sync_full.targeted_sync_resources.add()
        for task in (unknown_type, unknown_target, empty_target):
            rig.fake.enqueue(task)
            report = await rig.finished(task.id)
            assert report.WhichOneof("final_state") == "error", report
            assert len(report.status.message) <= 4096
            assert "\x1b" not in report.status.message
        assert rig.fake.recorded().uploads == []
    assert _left_files(tmp_path) == []


async def test_a_sync_with_every_option_set_at_once_is_reported_once(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        task = kind_task("sync_full")
        task.sync_full.skip_expand_grants = True
        task.sync_full.skip_entitlements_and_grants = True
        task.sync_full.skip_grants = True
        task.sync_full.storage_engine = "pebble"
        task.sync_full.sync_resource_type_ids.append("space")
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success", report
        assert len([u for u in rig.fake.recorded().uploads if u.ok]) == 1


def _retry_after(seconds: int) -> bytes:
    status = status_pb2.Status(code=Code.RESOURCE_EXHAUSTED.value[0], message="slow down")
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
    return status.SerializeToString()


async def test_an_upload_asked_to_wait_longer_than_its_policy_allows_gives_up_at_once_retryably(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next("UploadAsset", Code.RESOURCE_EXHAUSTED, times=3, status_details=_retry_after(3600))
        report = await rig.finished(await _sync(rig))
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable
        assert len(rig.fake.recorded().calls_to("UploadAsset")) == 1


async def test_an_upload_asked_to_wait_a_moment_waits_and_goes_through(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next("UploadAsset", Code.RESOURCE_EXHAUSTED, times=1, status_details=_retry_after(1))
        report = await rig.finished(await _sync(rig))
        assert report.WhichOneof("final_state") == "success"
        waits = [e["retry_in"] for e in rig.logged("c1 upload attempt failed, retrying")]
        assert waits
        assert waits[0] >= 1


async def test_two_syncs_at_once_upload_each_its_own_file_and_leave_nothing_behind(tmp_path: Path) -> None:
    async with running(tmp_path, task_concurrency=3) as rig:
        rig.fake.hold_upload_answers(times=1)
        first = await _sync(rig)
        await rig.until("the held upload", lambda: rig.fake.recorded().uploads)
        second = await _sync(rig)
        assert (await rig.finished(second)).WhichOneof("final_state") == "success"
        _cut_connections(rig)  # ends the held upload: it is tried again
        assert (await rig.finished(first)).WhichOneof("final_state") == "success"
        uploads = [u for u in rig.fake.recorded().uploads if u.ok]
        assert {u.task_id for u in uploads} == {first, second}
        assert all(u.received_sha256 == u.computed_sha256 for u in uploads)
    assert _left_files(tmp_path) == []


@pytest.fixture
def slow_listing(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """The wiki's space listing waits for the returned event on its second page: a sync in progress for as long as a
    test needs (set in the test's loop)."""
    release = asyncio.Event()
    original = SpaceSyncer.list_resources

    async def held(self: SpaceSyncer, parent: object, page_token: str) -> object:
        if page_token:
            await release.wait()
        return await original(self, parent, page_token)  # type: ignore[arg-type]

    monkeypatch.setattr(SpaceSyncer, "list_resources", held)
    return release


async def test_a_task_cancelled_mid_sync_stops_the_sync_reports_it_cancelled_and_leaves_nothing(
    tmp_path: Path, slow_listing: asyncio.Event
) -> None:
    async with running(tmp_path) as rig:
        rig.fake.set_polling(next_heartbeat=1.0)
        task = kind_task("sync_full")
        rig.fake.enqueue(task)
        await rig.until("the sync under way", lambda: rig.fake.recorded().heartbeats)
        rig.fake.cancel_task(task.id)
        report = await rig.finished(task.id, within=20)
        assert report.WhichOneof("final_state") == "error"
        assert report.status.code == Code.CANCELLED.value[0]
        assert rig.fake.recorded().uploads == []
        slow_listing.set()
        # The store and the slots are free again: the next sync goes through.
        assert (await rig.finished(await _sync(rig))).WhichOneof("final_state") == "success"
    assert _left_files(tmp_path) == []


async def test_a_stop_mid_sync_reports_it_retryable_and_leaves_nothing(
    tmp_path: Path, slow_listing: asyncio.Event
) -> None:
    async with running(tmp_path, shutdown_grace_seconds=0.5) as rig:
        task = kind_task("sync_full")
        rig.fake.enqueue(task)
        await rig.until("the sync under way", lambda: rig.fake.recorded().heartbeats)
        rig.stop.set()
        assert await asyncio.wait_for(rig.service, timeout=30) == 0
        report = rig.fake.recorded().finish_tasks[task.id][0]
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable
    assert _left_files(tmp_path) == []
