"""`Task.debug` over the wire (docs/spec/service-mode.md §3.8, §3.7 step 6): a debugged full sync uploads its c1z, then
its own log lines as a second UploadAsset stream under the same task id, then reports. Here ConductorOne refuses,
holds, cuts or answers that second stream early, sets the flag on a task that is no sync, runs two debugged syncs at
once, and quotes secrets back in its refusals.

What must hold: the sync's report is one success whenever the c1z arrived whole (the debug asset is diagnostics, and
failing the sync for it would make ConductorOne run the whole sync again); an asset ConductorOne accepts is whole
and holds only the task's own lines, as JSON; the heartbeats go on while the debug asset is in flight; no secret (the
canaries for the Datadog keys, the client secret, its private key, any access token) reaches a log line, a metric, a
report or an asset; nothing is left in the temp dir.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from connector.baton.c1 import client as c1_client
from connector.baton.c1.client import CallTimeouts
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks.debuglog import TASK_LOGS
from tests.baton.second_connector.wiki import SpaceSyncer
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import kind_task
from tests.independent.service.rig import space_task
from tests.independent.service2.rig import API_KEY, APP_KEY, Logged, logged_service

Code = grpc.StatusCode


def debugged_sync() -> baton_pb2.Task:
    task = kind_task("sync_full")
    task.debug = True
    return task


def after_each_whole_upload(fake: FakeC1, action: Callable[[], None], times: int = 1) -> None:
    """Run `action` (scripting the fake) once the fake has taken a whole upload and decided how to answer it: what
    it scripts applies to the streams that follow, the debug asset after a c1z."""
    original = fake.state.pop_held_upload_answer  # asked after every whole upload, just before its answer
    left = [times]

    def decided() -> bool:
        held = original()
        if left[0] > 0:
            left[0] -= 1
            action()
        return held

    fake.state.pop_held_upload_answer = decided  # type: ignore[method-assign]


def whole_uploads(rig: Logged, task_id: str) -> list[bytes]:
    uploads = [u for u in rig.fake.recorded().uploads if u.ok and u.task_id == task_id]
    assert all(u.received_sha256 == u.computed_sha256 for u in uploads)
    return [u.path.read_bytes() for u in uploads if u.path is not None]


def debug_lines(asset: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in asset.decode().splitlines()]


def left_files(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "sync.c1z"]


def assert_c1z_then_debug_log(rig: Logged, task_id: str) -> list[dict[str, Any]]:
    """The task's whole uploads are its c1z, then its debug log: JSON lines, every one the task's own."""
    c1z, debug_log = whole_uploads(rig, task_id)
    assert c1z.startswith(b"C1ZF\x00")
    lines = debug_lines(debug_log)
    assert lines
    assert {line.get("task_id") for line in lines} == {task_id}
    return lines


@pytest.mark.parametrize(
    "code", [Code.UNAVAILABLE, Code.INTERNAL, Code.RESOURCE_EXHAUSTED, Code.UNAUTHENTICATED, Code.PERMISSION_DENIED]
)
async def test_a_debug_asset_refused_every_time_leaves_the_sync_a_success_reported_once(
    tmp_path: Path, code: grpc.StatusCode
) -> None:
    async with logged_service(tmp_path) as rig:
        after_each_whole_upload(rig.fake, lambda: rig.fake.fail_next("UploadAsset", code, times=6))
        task = debugged_sync()
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success", report
        (c1z,) = whole_uploads(rig, task.id)
        assert c1z.startswith(b"C1ZF\x00")
        # The c1z's one attempt, then at most the spec's three for the debug asset (§3.7: the same framing), each
        # sent once more with a fresh token when refused as unauthenticated (§1.5).
        calls = 2 if code == Code.UNAUTHENTICATED else 1
        assert 2 <= len(rig.fake.recorded().calls_to("UploadAsset")) <= 1 + 3 * calls
        (warning,) = rig.logged("the task's debug log was not uploaded; the sync was")
        assert warning["task_id"] == task.id
        assert warning["level"] == "warning"
        rig.assert_no_secret_anywhere()
    assert left_files(tmp_path) == []


async def test_heartbeats_go_on_while_conductorone_holds_the_debug_assets_answer(tmp_path: Path) -> None:
    async with logged_service(tmp_path) as rig:
        rig.fake.set_polling(next_heartbeat=1.0)
        after_each_whole_upload(rig.fake, lambda: rig.fake.hold_upload_answers(times=1))
        task = debugged_sync()
        rig.fake.enqueue(task)
        await rig.until("the held debug asset", lambda: len([u for u in rig.fake.recorded().uploads if u.ok]) >= 2)
        beats = len(rig.fake.recorded().heartbeats)
        await rig.until("two heartbeats more", lambda: len(rig.fake.recorded().heartbeats) >= beats + 2)
        assert not rig.fake.recorded().finish_tasks.get(task.id), "reported before the debug asset was answered"
        rig.fake.start_outage("refuse", seconds=0.0)  # a restart of ConductorOne: the held stream is cut
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success", report
        c1z, *debug_assets = whole_uploads(rig, task.id)
        assert c1z.startswith(b"C1ZF\x00")
        # The cut asset was taken whole (held only its answer); sent again, it is the same lines and more.
        assert 1 <= len(debug_assets) <= 3
        for asset in debug_assets:
            assert {line.get("task_id") for line in debug_lines(asset)} == {task.id}
        rig.assert_no_secret_anywhere()
    assert left_files(tmp_path) == []


async def test_a_debug_asset_conductorone_stops_reading_ends_within_the_stall_bound_and_the_sync_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(c1_client, "CallTimeouts", functools.partial(CallTimeouts, upload_stall=1.0))
    async with logged_service(tmp_path) as rig:
        after_each_whole_upload(rig.fake, lambda: rig.fake.stall_uploads(times=3))
        task = debugged_sync()
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success", report
        (c1z,) = whole_uploads(rig, task.id)
        assert c1z.startswith(b"C1ZF\x00")
        (warning,) = rig.logged("the task's debug log was not uploaded; the sync was")
        assert "UploadAsset" in warning["error"]
        rig.assert_no_secret_anywhere()
    assert left_files(tmp_path) == []


async def test_a_debug_flag_on_a_grant_makes_the_grant_and_uploads_nothing(tmp_path: Path) -> None:
    async with logged_service(tmp_path) as rig:
        task = space_task("grant", "105", "reader", "bo@wiki.example")
        task.debug = True
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success", report
        assert rig.wiki.writes == [("add", "105", "reader", "bo@wiki.example")]
        assert rig.fake.recorded().uploads == []
        rig.assert_no_secret_anywhere()
    assert left_files(tmp_path) == []


async def test_two_debugged_syncs_at_once_each_upload_only_their_own_lines(tmp_path: Path) -> None:
    async with logged_service(tmp_path, task_concurrency=3) as rig:
        rig.fake.hold_upload_answers(times=1)  # the first sync's c1z waits: the two runs overlap
        first, second = debugged_sync(), debugged_sync()
        rig.fake.enqueue(first)
        await rig.until("the first sync's held c1z", lambda: rig.fake.recorded().uploads)
        rig.fake.enqueue(second)
        assert (await rig.finished(second.id)).WhichOneof("final_state") == "success"
        rig.fake.start_outage("refuse", seconds=0.0)  # ends the held answer: the c1z is sent again
        assert (await rig.finished(first.id)).WhichOneof("final_state") == "success"
        for task in (first, second):
            uploads = whole_uploads(rig, task.id)
            assert uploads[0].startswith(b"C1ZF\x00")
            assert {line.get("task_id") for line in debug_lines(uploads[-1])} == {task.id}
        rig.assert_no_secret_anywhere()
    assert left_files(tmp_path) == []


async def test_secrets_quoted_back_by_conductorone_during_a_debugged_sync_reach_no_asset_and_no_line(
    tmp_path: Path,
) -> None:
    async with logged_service(tmp_path) as rig:
        quoted = f"denied api_key={API_KEY} app_key={APP_KEY} secret={rig.fake.client_secret}"
        rig.fake.set_polling(next_heartbeat=1.0)
        # The c1z's first attempt refused (every token issued quoted), then the debug asset's first.
        rig.fake.fail_next("UploadAsset", Code.UNAVAILABLE, echo_tokens=True, message=quoted)
        after_each_whole_upload(
            rig.fake, lambda: rig.fake.fail_next("UploadAsset", Code.UNAVAILABLE, echo_tokens="own", message=quoted)
        )
        task = debugged_sync()
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success", report
        lines = assert_c1z_then_debug_log(rig, task.id)
        # The refusal is in the asset, at debug, without what it quoted.
        assert any(line["level"] == "debug" for line in lines)
        assert any(line.get("event") == "c1 upload attempt failed, retrying" for line in lines)
        rig.assert_no_secret_anywhere()
    assert left_files(tmp_path) == []


async def test_a_debugged_sync_whose_c1z_is_refused_uploads_no_debug_asset_and_is_reported_once(tmp_path: Path) -> None:
    """§3.7: the debug log goes up after the c1z (step 6), so a sync whose c1z never arrived sends none: its report
    says the sync failed, and the capture ends with the task."""
    async with logged_service(tmp_path) as rig:
        rig.fake.fail_next("UploadAsset", Code.UNAVAILABLE, times=3)
        task = debugged_sync()
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "error", report
        assert not report.error.non_retryable
        assert len(rig.fake.recorded().calls_to("UploadAsset")) == 3
        assert not rig.logged("uploading the task's debug log")
        assert not TASK_LOGS.active
        rig.assert_no_secret_anywhere()
    assert left_files(tmp_path) == []


async def test_a_debugged_sync_stopped_mid_way_is_reported_retryable_and_its_capture_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    original = SpaceSyncer.list_resources

    async def held(self: SpaceSyncer, parent: object, page_token: str) -> object:
        if page_token:
            await release.wait()
        return await original(self, parent, page_token)  # type: ignore[arg-type]

    monkeypatch.setattr(SpaceSyncer, "list_resources", held)
    async with logged_service(tmp_path, shutdown_grace_seconds=0.5) as rig:
        task = debugged_sync()
        rig.fake.enqueue(task)
        await rig.until("the sync under way", lambda: rig.fake.recorded().heartbeats)
        assert TASK_LOGS.active
        rig.stop.set()
        assert await asyncio.wait_for(rig.service, timeout=30) == 0
        (report,) = rig.fake.recorded().finish_tasks[task.id]
        assert report.WhichOneof("final_state") == "error"
        assert not report.error.non_retryable
        assert rig.fake.recorded().uploads == []
        assert not TASK_LOGS.active, "the stopped task's lines are still being kept"
        rig.assert_no_secret_anywhere()
    assert left_files(tmp_path) == []


async def test_a_debug_asset_stays_within_its_bound_and_its_last_line_says_what_was_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 800  # a small sync logs about 1.7 KB
    monkeypatch.setattr(TASK_LOGS, "_limit", limit)
    async with logged_service(tmp_path) as rig:
        task = debugged_sync()
        rig.fake.enqueue(task)
        assert (await rig.finished(task.id)).WhichOneof("final_state") == "success"
        _, debug_log = whole_uploads(rig, task.id)
        *kept, last = debug_lines(debug_log)
        assert len(debug_log) - len(json.dumps(last)) - 1 <= limit
        assert kept
        assert last["event"] == "debug log truncated: later lines were not kept"
        assert last["dropped_lines"] >= 1
        rig.assert_no_secret_anywhere()
    assert left_files(tmp_path) == []
