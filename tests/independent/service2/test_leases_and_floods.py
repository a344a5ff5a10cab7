"""Heartbeats refused for longer than a sync's lease, a cancel that comes after the c1z was taken or while a grant's
write is landing, and more tasks than the daemon has slots for (docs/spec/service-mode.md §3.2, §3.6).

What must hold: nine failed periodic heartbeats in a row end the sync in one retryable report naming the heartbeat
(§3.6 step 2), with its upload given up; a cancel ConductorOne sends by Heartbeat ends a sync in one CANCELLED report
(§3.6 step 3) whatever phase it is in; a grant has no heartbeat and GetTask's `cancelled_task_ids` are not read
(§3.6 step 4), so a grant whose write landed is reported made; a flood of tasks is taken no faster than the slots
free up (§3.2 step 2: no task is claimed without capacity to run it), and every one is reported exactly once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from connector.baton.ksuid import new_ksuid
from tests.fakes.tasks import kind_task
from tests.independent.service.rig import space_task
from tests.independent.service2.rig import logged_service
from tests.independent.service2.test_debug_asset import after_each_whole_upload, debugged_sync, whole_uploads

Code = grpc.StatusCode


def _left_files(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "sync.c1z"]


@pytest.mark.slow
async def test_heartbeats_refused_for_longer_than_the_lease_end_the_sync_in_one_retryable_report(
    tmp_path: Path,
) -> None:
    async with logged_service(tmp_path) as rig:
        rig.fake.set_polling(next_heartbeat=1.0)
        rig.fake.hold_upload_answers(times=1)
        task = kind_task("sync_full")
        rig.fake.enqueue(task)
        await rig.until("the held upload", lambda: rig.fake.recorded().uploads)
        rig.fake.fail_next("Heartbeat", Code.UNAVAILABLE, times=1000)
        report = await rig.finished(task.id, within=40)
        assert report.WhichOneof("final_state") == "error", report
        assert not report.error.non_retryable
        assert report.status.code == Code.UNAVAILABLE.value[0]
        assert "heartbeat" in report.status.message
        failed = rig.logged("heartbeat failed")
        assert [line["failures"] for line in failed] == list(range(1, 10))
        assert {line["task_id"] for line in failed} == {task.id}
        rig.assert_no_secret_anywhere()
    assert _left_files(tmp_path) == []


async def test_a_cancel_heard_after_the_c1z_was_taken_ends_the_debugged_sync_in_one_cancelled_report(
    tmp_path: Path,
) -> None:
    async with logged_service(tmp_path) as rig:
        rig.fake.set_polling(next_heartbeat=1.0)
        task = debugged_sync()
        after_each_whole_upload(rig.fake, lambda: rig.fake.hold_upload_answers(times=1), times=2)
        rig.fake.enqueue(task)
        await rig.until("the held debug asset", lambda: len(whole_uploads(rig, task.id)) >= 2)
        rig.fake.cancel_task(task.id)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "error", report
        assert report.status.code == Code.CANCELLED.value[0]
        rig.assert_no_secret_anywhere()
    assert _left_files(tmp_path) == []


async def test_a_grant_conductorone_cancels_while_its_write_lands_is_reported_made(tmp_path: Path) -> None:
    async with logged_service(tmp_path) as rig:
        rig.wiki.hold = asyncio.Event()
        task = space_task("grant", "105", "editor", "ana@wiki.example")
        rig.fake.enqueue(task)
        await asyncio.wait_for(rig.wiki.granting.wait(), timeout=10)
        rig.fake.cancel_task(task.id)
        rig.wiki.hold.set()
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success", report
        assert rig.wiki.writes == [("add", "105", "editor", "ana@wiki.example")]


async def test_a_flood_of_tasks_is_taken_no_faster_than_the_slots_free_and_each_is_reported_once(
    tmp_path: Path,
) -> None:
    concurrency = 2
    async with logged_service(tmp_path, task_concurrency=concurrency) as rig:
        rig.wiki.hold = asyncio.Event()
        emails = [f"user{n}@wiki.example" for n in range(30)]
        for email in emails:
            rig.wiki.accounts[email] = email
        tasks = [space_task("grant", "105", "reader", email) for email in emails]
        tasks += [kind_task("create_sync_diff") for _ in range(10)]
        for task in tasks:
            rig.fake.enqueue(task)
        await asyncio.wait_for(rig.wiki.granting.wait(), timeout=10)
        rig.wiki.hold.set()
        for task in tasks:
            await rig.finished(task.id)
        recorded = rig.fake.recorded()
        # At each hand-out, fewer than `concurrency` tasks were claimed and not yet reported.
        for task_id, handed in recorded.handed_out_at.items():
            open_ = [
                other
                for other, at in recorded.handed_out_at.items()
                if other != task_id and at < handed and recorded.first_finished_at[other] > handed
            ]
            assert len(open_) < concurrency, (task_id, open_)
        assert len(rig.wiki.writes) == 30
        # The gauge falls once FinishTask's answer is back, a moment after the fake recorded the report.
        await rig.until(
            "nothing in flight", lambda: rig.metrics.registry.get_sample_value("baton_wiki_tasks_in_flight") == 0
        )
        rig.assert_no_secret_anywhere()


async def test_a_task_id_unknown_to_conductorone_in_a_cancel_list_changes_nothing(tmp_path: Path) -> None:
    """GetTask's cancelled_task_ids are not read (§3.6 step 4): a cancel naming a task never handed out, or a running
    grant, neither stops nor reports anything."""
    async with logged_service(tmp_path) as rig:
        rig.fake.cancel_task(new_ksuid())
        task = space_task("revoke", "7", "reader", "ana@wiki.example")
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success", report
        assert rig.wiki.writes == [("remove", "7", "reader", "ana@wiki.example")]
