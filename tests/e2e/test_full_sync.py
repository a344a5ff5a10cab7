"""A sync_full task end to end: heartbeats, one upload holding exactly the Datadog org, then one FinishTask."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from connector.baton.c1z.reader import C1ZReader
from tests.e2e.harness import Stack, assert_success, only_finish
from tests.fakes.datadog.expect import expected_sync
from tests.fakes.tasks import kind_task

SYNC_LATENCY = 0.6
"""Per Datadog request while the sync runs: long enough for periodic heartbeats (1 s) to happen."""


def test_sync_full_uploads_the_org_then_finishes_once(stack: Stack) -> None:
    c1, dd = stack.c1, stack.dd
    daemon = stack.start()
    assert daemon.metric("baton_datadog_last_successful_sync_timestamp_seconds") == 0
    started = time.time()
    dd.faults.latency = SYNC_LATENCY
    # The fake holds the upload for a second: any FinishTask sent before the upload is done shows up then.
    c1.slow_down("UploadAsset", 1.0)
    task = kind_task("sync_full")
    c1.enqueue(task)

    def finished_after_upload() -> bool:
        recorded = c1.recorded()  # one atomic snapshot
        if task.id in recorded.finish_tasks:
            assert any(u.task_id == task.id and u.ok for u in recorded.uploads), "FinishTask before the upload ended"
            return True
        return False

    daemon.wait_for(finished_after_upload, timeout=30, what="the sync's FinishTask", interval=0.01)
    dd.faults.latency = 0
    recorded = c1.recorded()
    assert_success(only_finish(recorded, task.id))
    finish = only_finish(recorded, task.id)
    assert finish.host_id == stack.host_id
    assert not finish.success.HasField("response"), "a full sync reports no response"

    # Heartbeats: the synchronous one before the sync, then periodic ones while it ran.
    beats = [b for b in recorded.heartbeats if b.task_id == task.id]
    assert len(beats) >= 2, f"{len(beats)} heartbeats for a sync of several seconds"
    assert all(b.host_id == stack.host_id for b in beats)

    # Exactly one upload, whole and checksummed, of a c1z that holds exactly the org.
    uploads = [u for u in recorded.uploads if u.task_id == task.id]
    assert len(uploads) == 1, f"{len(uploads)} uploads"
    upload = uploads[0]
    assert upload.ok
    assert upload.error == ""
    assert upload.received_sha256 == upload.computed_sha256 == hashlib.sha256(_read(upload.path)).digest()
    assert upload.host_id == stack.host_id
    expected = expected_sync(dd.org)
    resources, grants, entitlements = expected.resources, expected.grants, expected.entitlements
    assert upload.path is not None
    with C1ZReader(upload.path) as reader:
        runs = reader.sync_runs()
        assert [(r.sync_type, r.finished) for r in runs] == [("full", True)], "one finished full sync run"
        assert sorted(rt.id for rt in reader.resource_types()) == ["role", "team", "user"]
        for type_id, ids in resources.items():
            assert {r.id.resource for r in reader.resources(type_id)} == ids, type_id
        assert {g.id for g in reader.grants()} == grants
        assert {e.id for e in reader.entitlements()} == entitlements

    # Metrics tell the story, and the working copy of the c1z is gone.
    # They move once FinishTask's answer is back, a moment after the fake recorded the report.
    daemon.wait_no_task_in_flight()
    assert daemon.metric("baton_datadog_tasks_finished_total", type="sync_full", outcome="success") == 1
    assert daemon.metric("baton_datadog_tasks_finished_total", type="sync_full", outcome="failed_final") == 0
    last_sync = daemon.metric("baton_datadog_last_successful_sync_timestamp_seconds")
    assert last_sync is not None
    assert started <= last_sync <= time.time()
    assert daemon.metric("baton_datadog_upload_bytes_total") == upload.size
    assert list(daemon.temp_dir.iterdir()) == [], "the temporary c1z must be deleted after the upload"
    assert [e["task_id"] for e in daemon.wait_logged("task succeeded")] == [task.id]


def _read(path: Path | None) -> bytes:
    assert path is not None
    return path.read_bytes()


def test_a_periodic_sync_to_a_local_file_is_not_a_sync_conductorone_has(stack: Stack) -> None:
    # BATON_SYNC_INTERVAL writes --file locally and uploads nothing: it stamped the last successful sync, so
    # BatonDatadogSyncStale ("ConductorOne's view of Datadog access is getting old") stayed quiet while every sync
    # ConductorOne asked for failed or none was asked for.
    daemon = stack.start({"BATON_SYNC_INTERVAL": "3600", "BATON_FILE": str(stack.root / "periodic.c1z")})
    daemon.wait_for(lambda: daemon.events("periodic sync written"), timeout=30, what="the periodic sync")
    assert daemon.metric("baton_datadog_last_successful_sync_timestamp_seconds") == 0
    assert daemon.metric("baton_datadog_sync_duration_seconds_count") == 0
    assert not stack.c1.recorded().uploads


def test_a_debugged_sync_uploads_its_debug_log_after_the_c1z(stack: Stack) -> None:
    """Task.debug (docs/spec/service-mode.md §3.8, §3.7 step 6): a second asset under the same task id, after the
    c1z and before the FinishTask, holding the task's lines at debug level as JSON, every Datadog request among them;
    the daemon's own log stays at its level, and neither holds a key."""
    c1, dd = stack.c1, stack.dd
    daemon = stack.start()
    before = len(dd.requests())  # the start's own (the keys' check) are no task's
    task = kind_task("sync_full")
    task.debug = True
    c1.enqueue(task)
    daemon.wait_for(lambda: task.id in c1.recorded().finish_tasks, timeout=30, what="the sync's FinishTask")
    recorded = c1.recorded()
    assert_success(only_finish(recorded, task.id))
    uploads = [u for u in recorded.uploads if u.task_id == task.id]
    assert [u.ok for u in uploads] == [True, True]
    c1z, debug_log = (_read(u.path) for u in uploads)
    assert c1z.startswith(b"C1ZF\x00")
    lines = [json.loads(line) for line in debug_log.decode().splitlines()]
    assert {line["task_id"] for line in lines} == {task.id}
    requests = [line for line in lines if line["event"] == "datadog request"]
    assert {line["level"] for line in requests} == {"debug"}
    assert len(requests) == len(dd.requests()) - before
    for secret in (dd.api_key, dd.app_key):
        assert secret.encode() not in debug_log
        assert secret not in daemon.output()
    assert "datadog request" not in daemon.output()
    assert list(daemon.temp_dir.iterdir()) == [], "the c1z and the debug log are deleted after the upload"
