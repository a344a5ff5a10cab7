"""What /metrics says after a hostile mix: every task received is counted once among the finished, whatever became of
it (success, failure, not run, given up), nothing stays in flight, and no secret is in the page.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import httpx
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2
from prometheus_client.parser import text_string_to_metric_families

from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.c1.service import GARBAGE
from tests.fakes.tasks import kind_task
from tests.independent.service.rig import PREFIX, Running, running, space_task


def _by_type(rig: Running, name: str) -> dict[str, float]:
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(rig.metrics.render().decode()):
        for sample in family.samples:
            if sample.name == f"{PREFIX}_{name}":
                kind = sample.labels["type"]
                totals[kind] = totals.get(kind, 0.0) + sample.value
    return {kind: total for kind, total in totals.items() if total}


async def test_every_task_received_is_counted_once_among_the_finished_whatever_became_of_it(tmp_path: Path) -> None:
    async with running(tmp_path, shutdown_grace_seconds=0.5) as rig:
        rig.fake.take_then_answer_raw("FinishTask", GARBAGE)
        ok = space_task("grant", "105", "editor", "ana@wiki.example")
        failed = space_task("grant", "105", "editor", "nobody@wiki.example")
        unsupported = kind_task("create_sync_diff")
        invalid = space_task("revoke", "7", "reader", "ana@wiki.example", task_id="not-a-task-id")
        sync = kind_task("sync_full")
        hello = kind_task("hello")
        no_payload = baton_pb2.Task(id=new_ksuid())
        for task in (ok, failed, unsupported, invalid, sync, hello, no_payload):
            rig.fake.enqueue(task)
        for task in (ok, failed, unsupported, sync, no_payload):
            await rig.finished(task.id)
        await rig.until("the hello", lambda: rig.logged("hello task answered"))
        await rig.until(
            "the refusal", lambda: rig.logged("invalid task from ConductorOne; not executed, cannot be reported")
        )
        # A report that cannot land before the stop: given up, and counted so.
        later = status_pb2.Status(code=grpc.StatusCode.UNAVAILABLE.value[0], message="later")
        later.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=300)))
        rig.fake.fail_next(
            "FinishTask", grpc.StatusCode.UNAVAILABLE, times=1000, status_details=later.SerializeToString()
        )
        lost = space_task("grant", "12", "reader", "ana@wiki.example")
        rig.fake.enqueue(lost)
        await rig.until("the refused report", lambda: rig.logged("task report failed; retrying"))
        (listening,) = rig.logged("health server listening")
        async with httpx.AsyncClient() as client:
            page = (await client.get(f"http://127.0.0.1:{listening['port']}/metrics")).text
        assert f"{PREFIX}_tasks_received_total" in page
        assert rig.fake.client_secret not in page
        for token in rig.fake.recorded().issued_tokens:
            assert token not in page
        rig.stop.set()
        assert await asyncio.wait_for(rig.service, timeout=30) == 0
        received = _by_type(rig, "tasks_received_total")
        finished = _by_type(rig, "tasks_finished_total")
        assert finished == received, (received, finished)
        assert rig.metric("tasks_in_flight") == 0
        assert rig.metric("tasks_finished_total", type="grant", outcome="unreported") == 1
