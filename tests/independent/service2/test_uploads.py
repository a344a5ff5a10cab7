"""A full sync's UploadAsset against a ConductorOne that stops reading, reads under a message limit smaller than the
upload's messages, or stops reading a c1z larger than every flow-control window while grants go on beside it
(docs/spec/service-mode.md §3.7; the stall bound of `CallTimeouts.upload_stall`).

What must hold: the heartbeats go on while the upload waits (§3.6: they last as long as the task); a stalled or
refused upload ends in one retryable failure report naming UploadAsset, after at most the spec's three attempts; a
grant beside a stalled upload is made and reported at once (one stream's window is not the connection's); no secret
in any line, metric or report; nothing left in the temp dir.
"""

from __future__ import annotations

import functools
import secrets
from pathlib import Path

import pytest

from connector.baton.c1 import client as c1_client
from connector.baton.c1.client import CallTimeouts
from tests.baton.second_connector.wiki import Wiki
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import kind_task
from tests.independent.service.rig import space_task, wiki
from tests.independent.service2.rig import logged_service


def _left_files(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "sync.c1z"]


def _stall_bound(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    monkeypatch.setattr(c1_client, "CallTimeouts", functools.partial(CallTimeouts, upload_stall=seconds))


def _large_wiki() -> Wiki:
    """A wiki whose c1z is more than one 512 KiB chunk (random names do not compress), more than the flow-control
    windows a stream starts with; few accounts with long names, so the sync stays short on a loaded machine."""
    base = wiki()
    for _ in range(6_000):
        base.accounts[f"{secrets.token_hex(12)}@wiki.example"] = secrets.token_hex(96)
    return base


async def test_heartbeats_go_on_while_conductorone_reads_nothing_of_the_upload_and_the_retry_goes_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stall_bound(monkeypatch, 60.0)
    async with logged_service(tmp_path) as rig:
        rig.fake.set_polling(next_heartbeat=1.0)
        rig.fake.stall_uploads(times=1)
        task = kind_task("sync_full")
        rig.fake.enqueue(task)
        await rig.until("the stalled upload", lambda: rig.fake.recorded().calls_to("UploadAsset"))
        beats = len(rig.fake.recorded().heartbeats)
        await rig.until("two heartbeats during the stall", lambda: len(rig.fake.recorded().heartbeats) >= beats + 2)
        assert len(rig.fake.recorded().calls_to("UploadAsset")) == 1, "the stall ended before two heartbeats"
        rig.fake.start_outage("refuse", seconds=0.0)  # a restart of ConductorOne: the stalled stream is cut
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success", report
        assert [u.task_id for u in rig.fake.recorded().uploads if u.ok] == [task.id]
        rig.assert_no_secret_anywhere()
    assert _left_files(tmp_path) == []


async def test_an_upload_conductorone_never_reads_fails_the_sync_retryably_naming_the_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stall_bound(monkeypatch, 0.5)
    async with logged_service(tmp_path) as rig:
        rig.fake.stall_uploads(times=3)
        task = kind_task("sync_full")
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "error", report
        assert not report.error.non_retryable
        assert "UploadAsset" in report.status.message
        assert len(rig.fake.recorded().calls_to("UploadAsset")) == 3
        assert rig.fake.recorded().uploads == []
        rig.assert_no_secret_anywhere()
    assert _left_files(tmp_path) == []


async def test_a_message_limit_below_the_upload_chunk_fails_the_sync_retryably_naming_the_limit(tmp_path: Path) -> None:
    fake = FakeC1(grpc_options=[("grpc.max_receive_message_length", 2048)]).start()
    try:
        async with logged_service(tmp_path, fake) as rig:
            task = kind_task("sync_full")
            rig.fake.enqueue(task)
            report = await rig.finished(task.id)
            assert report.WhichOneof("final_state") == "error", report
            assert not report.error.non_retryable
            assert "UploadAsset" in report.status.message
            assert "2048" in report.status.message, report.status.message
            assert 1 <= len(rig.fake.recorded().calls_to("UploadAsset")) <= 3
            assert not [u for u in rig.fake.recorded().uploads if u.ok]
            # Reports and grants, under the limit, go on.
            grant = space_task("grant", "105", "reader", "ana@wiki.example")
            rig.fake.enqueue(grant)
            assert (await rig.finished(grant.id)).WhichOneof("final_state") == "success"
            rig.assert_no_secret_anywhere()
    finally:
        fake.stop()
    assert _left_files(tmp_path) == []


async def test_a_grant_beside_a_large_upload_conductorone_stopped_reading_is_made_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stall_bound(monkeypatch, 60.0)
    async with logged_service(tmp_path, the_wiki=_large_wiki(), task_concurrency=3) as rig:
        rig.fake.stall_uploads(times=1)
        sync = kind_task("sync_full")
        rig.fake.enqueue(sync)
        await rig.until("the stalled upload", lambda: rig.fake.recorded().calls_to("UploadAsset"), within=120)
        await rig.until("the upload's writes blocked", lambda: rig.logged("c1z saved"), within=120)
        grant = space_task("grant", "105", "editor", "bo@wiki.example")
        rig.fake.enqueue(grant)
        report = await rig.finished(grant.id, within=20)
        assert report.WhichOneof("final_state") == "success", report
        assert not rig.fake.recorded().finish_tasks.get(sync.id), "the stalled upload ended before the grant's report"
        rig.fake.start_outage("refuse", seconds=0.0)  # a restart: the stalled stream is cut and sent again
        assert (await rig.finished(sync.id, within=120)).WhichOneof("final_state") == "success"
        (upload,) = [u for u in rig.fake.recorded().uploads if u.ok]
        assert len(upload.chunk_sizes) >= 2
        assert set(upload.chunk_sizes[:-1]) == {512 * 1024}
    assert _left_files(tmp_path) == []
