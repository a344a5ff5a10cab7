"""Task payloads a hostile or confused ConductorOne sends: ids of odd characters, garbage annotations, fields this
build does not know, a task id reused, the same grant twice at once, a revoke of nothing, tasks during a sync.

What must hold (issue 11 item 2, docs/service-mode.md "Invariant"): an id that is not 27 ASCII letters or digits is
never run and gets an error line; every other task gets exactly one accepted FinishTask whose outcome is what the
upstream (the wiki) shows; the in-flight gauge returns to 0.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.c1.service import GARBAGE
from tests.fakes.tasks import kind_task, length_delimited
from tests.independent.service.rig import Running, running, space_task


def _annotated(rig: Running, task: baton_pb2.Task) -> list[any_pb2.Any]:
    report = rig.fake.recorded().finish_tasks[task.id][0]
    return list(report.success.annotations)


@pytest.mark.parametrize(
    "task_id",
    [
        "\uff13" * 27,  # fullwidth digits: str.isalnum() says yes
        "\u0663" * 27,  # Arabic-Indic digits
        "A" * 26 + "\u0130",  # a letter that changes length when lower-cased
        "A" * 26 + "\x00",
        "A" * 26 + "\n",
        "A" * 27 + "\n",
        "é" * 27,
        "A" * 28,
        " " + "A" * 26,
    ],
    ids=["fullwidth", "arabic-digits", "dotted-I", "nul", "newline", "trailing-newline", "accented", "28", "space"],
)
async def test_a_task_id_of_odd_characters_is_never_run_and_is_named_in_an_error_line(
    tmp_path: Path, task_id: str
) -> None:
    async with running(tmp_path) as rig:
        bad = space_task("grant", "105", "editor", "ana@wiki.example", task_id=task_id)
        rig.fake.enqueue(bad)
        good = space_task("grant", "12", "reader", "ana@wiki.example")
        rig.fake.enqueue(good)
        await rig.finished(good.id)
        await rig.until(
            "the error line", lambda: rig.logged("invalid task from ConductorOne; not executed, cannot be reported")
        )
        assert ("105", "editor", "ana@wiki.example") not in rig.wiki.members
        assert set(rig.fake.recorded().finish_tasks) == {good.id}
        await rig.until("nothing in flight", lambda: rig.metric("tasks_in_flight") == 0)


async def test_garbage_annotations_and_unknown_fields_do_not_stop_a_task(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        task = space_task("grant", "105", "reader", "bo@wiki.example")
        task.grant.annotations.add(type_url="type.googleapis.com/no.such.Message", value=b"\xff\xfe")
        task.grant.annotations.add(type_url="", value=b"")
        task.grant.annotations.add(
            type_url="type.googleapis.com/c1.connector.v2.GrantAlreadyExists", value=b"\x0a\xff\xff\xff\x0f"
        )
        raw = task.SerializeToString() + length_delimited(9999, b"a field from the future")
        rig.fake.enqueue(baton_pb2.Task.FromString(raw))
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success"
        assert ("105", "reader", "bo@wiki.example") in rig.wiki.members


async def test_a_task_status_value_this_build_does_not_know_is_ignored(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        task = space_task("revoke", "12", "editor", "bo@wiki.example")
        raw = task.SerializeToString() + b"\x10\xe7\x07"  # status = 999 (an enum value from the future)
        rig.fake.enqueue(baton_pb2.Task.FromString(raw))
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success"
        assert ("12", "editor", "bo@wiki.example") not in rig.wiki.members


async def test_the_same_grant_under_two_ids_at_once_is_made_once_and_both_reported(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.wiki.hold = asyncio.Event()
        first = space_task("grant", "105", "editor", "ana@wiki.example")
        second = space_task("grant", "105", "editor", "ana@wiki.example")
        rig.fake.enqueue(first)
        rig.fake.enqueue(second)
        await asyncio.wait_for(rig.wiki.granting.wait(), timeout=10)
        await rig.until("the second task's turn", lambda: rig.logged("waiting for an earlier task on the same access"))
        rig.wiki.hold.set()
        for task in (first, second):
            assert (await rig.finished(task.id)).WhichOneof("final_state") == "success"
        assert ("105", "editor", "ana@wiki.example") in rig.wiki.members


async def test_a_grant_then_its_revoke_back_to_back_leave_no_access(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.wiki.hold = asyncio.Event()
        grant = space_task("grant", "105", "reader", "ana@wiki.example")
        revoke = space_task("revoke", "105", "reader", "ana@wiki.example")
        rig.fake.enqueue(grant)
        rig.fake.enqueue(revoke)
        await asyncio.wait_for(rig.wiki.granting.wait(), timeout=10)
        await rig.until("the revoke's turn", lambda: rig.logged("waiting for an earlier task on the same access"))
        rig.wiki.hold.set()
        await rig.finished(grant.id)
        report = await rig.finished(revoke.id)
        assert report.WhichOneof("final_state") == "success"
        assert ("105", "reader", "ana@wiki.example") not in rig.wiki.members


async def test_a_revoke_of_a_grant_that_is_not_there_succeeds_saying_so(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        task = space_task("revoke", "105", "editor", "bo@wiki.example")
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success"
        assert any(a.Is(annotation_grant_pb2.GrantAlreadyRevoked.DESCRIPTOR) for a in _annotated(rig, task))


async def test_a_task_id_reused_after_its_task_was_reported_is_a_new_delivery_and_answered_again(
    tmp_path: Path,
) -> None:
    async with running(tmp_path) as rig:
        task_id = new_ksuid()
        first = space_task("grant", "7", "editor", "bo@wiki.example", task_id=task_id)
        rig.fake.enqueue(first)
        await rig.finished(task_id)
        again = space_task("revoke", "7", "editor", "bo@wiki.example", task_id=task_id)
        rig.fake.enqueue(again)
        await rig.until("the second report", lambda: len(rig.fake.recorded().finish_tasks[task_id]) == 2)
        assert ("7", "editor", "bo@wiki.example") not in rig.wiki.members


async def test_a_different_task_under_a_running_tasks_id_is_not_run(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.wiki.hold = asyncio.Event()
        task_id = new_ksuid()
        rig.fake.enqueue(space_task("grant", "7", "editor", "bo@wiki.example", task_id=task_id))
        await asyncio.wait_for(rig.wiki.granting.wait(), timeout=10)
        rig.fake.enqueue(space_task("revoke", "12", "editor", "bo@wiki.example", task_id=task_id))
        await rig.until(
            "the refusal",
            lambda: rig.logged(
                "task id reused by a different task while the first still runs; not executed, cannot be reported"
            ),
        )
        rig.wiki.hold.set()
        report = await rig.finished(task_id)
        assert report.WhichOneof("final_state") == "success"
        assert report.success.response.type_url.endswith("GrantManagerServiceGrantResponse")
        assert ("12", "editor", "bo@wiki.example") in rig.wiki.members


async def test_grants_arriving_while_a_sync_runs_are_served_beside_it(tmp_path: Path) -> None:
    async with running(tmp_path, shutdown_grace_seconds=0.5) as rig:
        rig.fake.hold_upload_answers(times=1)
        sync = kind_task("sync_full")
        rig.fake.enqueue(sync)
        await rig.until("the held upload", lambda: rig.fake.recorded().uploads)
        grant = space_task("grant", "105", "editor", "bo@wiki.example")
        rig.fake.enqueue(grant)
        assert (await rig.finished(grant.id)).WhichOneof("final_state") == "success"
        assert sync.id not in rig.fake.recorded().finish_tasks


@pytest.mark.parametrize(
    "kind",
    [
        "create_resource",
        "rotate_credentials",
        "event_feed",
        "create_ticket_task",
        "list_ticket_schemas",
        "get_ticket",
        "bulk_create_tickets",
        "bulk_get_tickets",
        "action_status",
        "create_sync_diff",
        "compact_syncs",
        "list_event_feeds",
        "list_events",
    ],
)
async def test_every_task_type_this_connector_does_not_serve_is_reported_once(tmp_path: Path, kind: str) -> None:
    async with running(tmp_path) as rig:
        task = kind_task(kind)
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "error"
        assert report.status.code != 0
        await rig.until("nothing in flight", lambda: rig.metric("tasks_in_flight") == 0)


@pytest.mark.parametrize(
    "kind",
    [
        "grant",
        "revoke",
        "create_account",
        "delete_resource",
        "issue_credential",
        "action_invoke",
        "action_get_schema",
        "action_list_schemas",
        "sync_full",
        "hello",
    ],
)
async def test_every_served_task_type_empty_is_reported_once_or_answered(tmp_path: Path, kind: str) -> None:
    async with running(tmp_path) as rig:
        task = kind_task(kind)
        rig.fake.enqueue(task)
        if kind == "hello":
            await rig.until("the hello", lambda: any(h.task_id == task.id for h in rig.fake.recorded().hellos))
            return
        await rig.finished(task.id)
        await rig.until("nothing in flight", lambda: rig.metric("tasks_in_flight") == 0)
        assert not [e for e in rig.events if e.get("log_level") == "error" and "exc_info" in e]


async def test_a_hello_task_whose_hello_conductorone_took_but_answered_unreadably_is_answered(tmp_path: Path) -> None:
    """The Hello landed (the server answered it with a message); only the answer could not be read. Sent again and
    again, it was called unanswered at error after five tries, though ConductorOne had it from the first."""
    async with running(tmp_path) as rig:
        task = kind_task("hello")
        rig.fake.take_then_answer_raw("Hello", GARBAGE, times=10)
        rig.fake.enqueue(task)
        await rig.until(
            "the answer", lambda: rig.logged("hello task answered") or rig.logged("hello task not answered")
        )
        assert not rig.logged("hello task not answered")
        assert [h.task_id for h in rig.fake.recorded().hellos].count(task.id) == 1


async def test_a_task_offered_again_while_its_report_is_being_retried_is_not_run_again(tmp_path: Path) -> None:
    status = status_pb2.Status(code=grpc.StatusCode.UNAVAILABLE.value[0], message="later")
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=1)))
    async with running(tmp_path) as rig:
        rig.fake.fail_next(
            "FinishTask", grpc.StatusCode.UNAVAILABLE, times=2, status_details=status.SerializeToString()
        )
        task = space_task("grant", "105", "editor", "bo@wiki.example")
        rig.fake.enqueue(task)
        await rig.until("the first refusal", lambda: rig.logged("task report failed; retrying"))
        rig.fake.enqueue(task)  # ConductorOne, not having heard, offers it again
        rig.fake.enqueue(task)
        await rig.until(
            "the copies", lambda: rig.logged("task delivered again while it is still running; ignoring the copy")
        )
        await rig.finished(task.id)
        assert rig.wiki.writes.count(("add", "105", "editor", "bo@wiki.example")) == 1


async def test_a_task_of_a_type_newer_than_this_build_is_reported_unsupported_and_retryable(tmp_path: Path) -> None:
    """An unknown oneof case reads as a task without a payload: "anything unknown" (docs/spec/service-mode.md §0.2,
    item 8) is FinishTask UNKNOWN "unsupported task type", retryable."""
    async with running(tmp_path) as rig:
        task_id = new_ksuid()
        raw = baton_pb2.Task(id=task_id).SerializeToString() + length_delimited(150, length_delimited(1, b"future"))
        rig.fake.enqueue(baton_pb2.Task.FromString(raw))
        report = await rig.finished(task_id)
        assert report.WhichOneof("final_state") == "error"
        assert report.status.code == grpc.StatusCode.UNKNOWN.value[0]
        assert report.status.message == "unsupported task type"
        assert not report.error.non_retryable
