"""What a task whose report is being retried holds, in process: a scripted ConductorOne that refuses some reports
(PERMISSION_DENIED, which the report table retries) while GetTask answers, the scheduler with its pause injected.

The processor needs nothing of such a task but what tells a copy ConductorOne re-offers meanwhile from another task
under its id: it keeps the task's kind and a digest, and the scheduler weighs the report in the budget of task bytes
instead of the task's answer. Held whole, a few large answers whose reports ConductorOne kept refusing filled the
budget, and polling stopped with slots free; and the reports themselves (up to 4 MiB each) were not counted.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from typing import Any

import grpc
import structlog
from google.protobuf import any_pb2

from connector.baton.c1.errors import C1FatalError
from connector.baton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.runtime.scheduler import Scheduler
from tests.baton.tasks.stubs import INSTANT, Rig, StubClient, StubProvisioner, make_rig
from tests.fakes.tasks import grant_task, revoke_task
from tests.polling import until

Response = baton_pb2.BatonServiceGetTaskResponse
KiB, MiB = 1024, 1024 * 1024
WAITING = "polling waits for the tasks under way to end: they hold the memory budget of task bytes"
PADDING = "type.googleapis.com/x.Padding"


class RefusesReports(StubClient):
    """A ConductorOne whose FinishTask refuses the reports of `refused` (PERMISSION_DENIED) until `accept` is set,
    while GetTask and every other report work; each refused task's first refusal is in `retrying`. It hands out its
    next task once every refused report it handed out is being retried or was taken (so each test meets one order of
    events)."""

    def __init__(self, refused: set[str]) -> None:
        super().__init__()
        self.refused = refused
        self.accept = asyncio.Event()
        self.retrying: set[str] = set()
        self.handed: list[str] = []

    async def get_task(self, *, on_answer: Callable[[int], None] | None = None) -> Response:
        if self.poll_script:
            await _until(
                lambda: self.refused.intersection(self.handed) <= self.retrying | self.reported(),
                "the refused reports were never retried nor made",
            )
        answer = await super().get_task(on_answer=on_answer)
        if answer.HasField("task"):
            self.handed.append(answer.task.id)
        return answer

    async def finish_task(self, task_id: str, **kwargs: Any) -> baton_pb2.BatonServiceFinishTaskResponse:
        if task_id in self.refused and not self.accept.is_set():
            self.retrying.add(task_id)
            self.finish_attempts += 1
            raise C1FatalError("FinishTask: PERMISSION_DENIED: not now", code=grpc.StatusCode.PERMISSION_DENIED)
        return await super().finish_task(task_id, **kwargs)

    def reported(self) -> set[str]:
        return {finish.task_id for finish in self.finishes}


def _padded(task: baton_pb2.Task, size: int) -> baton_pb2.Task:
    """`task` with an annotation of `size` bytes on its principal, which no handler reads."""
    principal = task.grant.principal if task.HasField("grant") else task.revoke.grant.principal
    principal.annotations.append(any_pb2.Any(type_url=PADDING, value=b"p" * size))
    return task


async def _until(check: Callable[[], bool], what: str) -> None:
    """Until `check` holds (the loop's other tasks make it so): a guard against a hang, not a measure of time."""
    await until(check, what, within=60, every=0.001)


def _scheduler(client: StubClient, rig: Rig, *, concurrency: int, task_bytes: int) -> Scheduler:
    async def no_pause(stop: asyncio.Event, seconds: float) -> bool:
        await asyncio.sleep(0)
        return stop.is_set()

    return Scheduler(
        client.as_client(),
        rig.processor,
        concurrency=concurrency,
        poll_retry=INSTANT,
        wait=no_pause,
        task_bytes=task_bytes,
    )


def _tasks_alive(task_id: str) -> int:
    """Task messages of that id this process still holds (a GetTask answer's task, or a copy of it)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, baton_pb2.Task) and o.id == task_id)


async def test_reports_retried_for_good_no_longer_hold_their_answers_and_polling_goes_on() -> None:
    """Two grants of 600 KiB answers whose reports ConductorOne keeps refusing, a poll reserving 1 MiB, a budget of
    2 MiB, four slots. Each grant gave its slot back once its report was being retried, yet kept its answer's weight:
    1.2 MiB held and the 1 MiB reserve no longer fit, so polling waited with three slots free, and the revoke queued
    behind them never ran. Now each holds its report's few bytes, and polling goes on."""
    first = _padded(grant_task("role", "r1", "member", "u1"), 600 * KiB)
    second = _padded(grant_task("role", "r2", "member", "u2"), 600 * KiB)
    revoke = revoke_task("role", "r3", "member", "u3")
    client = RefusesReports({first.id, second.id})
    client.max_task_bytes = 1 * MiB
    client.poll_script.extend(Response(task=task) for task in (first, second, revoke))
    rig = make_rig(client=client)
    scheduler = _scheduler(client, rig, concurrency=4, task_bytes=2 * MiB)
    stop = asyncio.Event()
    with structlog.testing.capture_logs() as events:
        polling = asyncio.create_task(scheduler.run(stop))
        await _until(
            lambda: revoke.id in client.reported() or any(e["event"] == WAITING for e in events),
            "the revoke was never reported, nor did the polling wait",
        )
        assert [e["tasks"] for e in events if e["event"] == WAITING] == [], "polling waited with slots free"
        assert client.retrying == {first.id, second.id}, "both reports are still being retried"
        assert rig.connector.provisioning.calls == ["grant", "grant", "revoke"]
        client.accept.set()
        await _until(lambda: {first.id, second.id} <= client.reported(), "the two tasks were never reported")
        stop.set()
        await polling
    await scheduler.drain(1.0)
    assert sorted(finish.task_id for finish in client.finishes) == sorted([first.id, second.id, revoke.id])
    assert all(finish.ok for finish in client.finishes)
    assert scheduler.in_flight == 0


async def test_a_task_whose_report_is_retried_is_no_longer_held_in_memory() -> None:
    """Nothing of the task is held while its report is retried: not its GetTask answer, not the task in it. (Held
    whole, each such task kept up to 32 MiB until its report ended.)"""
    grant = _padded(grant_task("role", "r", "member", "u"), 64 * KiB)
    task_id = grant.id
    client = RefusesReports({task_id})
    client.poll_script.append(Response(task=grant))
    del grant  # the answer in the script is a copy: from here only the daemon holds the task
    rig = make_rig(client=client)
    scheduler = _scheduler(client, rig, concurrency=2, task_bytes=client.max_task_bytes + MiB)
    stop = asyncio.Event()
    polling = asyncio.create_task(scheduler.run(stop))
    await _until(
        lambda: task_id in client.retrying and client.polls >= 3, "the report was never retried over three polls"
    )
    # Let go once its digest is made, on a worker thread, as the report is retried.
    await until(lambda: _tasks_alive(task_id) == 0, "the task was still held while its report was retried", within=10)
    client.accept.set()
    await _until(lambda: task_id in client.reported(), "the task was never reported")
    stop.set()
    await polling
    await scheduler.drain(1.0)
    (finish,) = client.finishes
    assert finish.ok


async def test_a_copy_re_offered_while_the_report_is_retried_is_recognised_and_not_run_again() -> None:
    """ConductorOne re-offers a task whose report it has not taken yet (its `status` changed, its bookkeeping): the
    copy is recognised from what the processor keeps of the task, not run a second time, and the one report lands
    with the outcome of the one run. Another task under that id is refused as before, naming the first one's type."""
    grant = _padded(grant_task("role", "r", "member", "u"), 64 * KiB)
    copy = baton_pb2.Task()
    copy.CopyFrom(grant)
    copy.status = baton_pb2.Task.STATUS_RUNNING
    copy.debug = True
    other = revoke_task("role", "r", "member", "u")
    other.id = grant.id
    client = RefusesReports({grant.id})
    client.poll_script.extend(Response(task=task) for task in (grant, copy, other))
    rig = make_rig(client=client)
    scheduler = _scheduler(client, rig, concurrency=2, task_bytes=client.max_task_bytes + MiB)
    stop = asyncio.Event()
    with structlog.testing.capture_logs() as events:
        polling = asyncio.create_task(scheduler.run(stop))
        await _until(lambda: client.polls >= 4, "the polling stopped short of four polls")
        # Each copy's line comes once its digest is made, on a worker thread.
        await _until(
            lambda: all(
                any(e["event"].startswith(line) for e in events) for line in ("task delivered", "task id reused")
            ),
            "the copy and the other task were never logged",
        )
        assert client.retrying == {grant.id}
        assert rig.connector.provisioning.calls == ["grant"], "the copy did not run"
        client.accept.set()
        await _until(lambda: grant.id in client.reported(), "the grant was never reported")
        stop.set()
        await polling
    await scheduler.drain(1.0)
    (finish,) = client.finishes
    assert (finish.ok, finish.task_id) == (True, grant.id)
    assert isinstance(finish.response, grant_pb2.GrantManagerServiceGrantResponse)
    assert [e["task_id"] for e in events if e["event"].startswith("task delivered again")] == [grant.id]
    (reused,) = [e for e in events if e["event"].startswith("task id reused")]
    assert (reused["task_type"], reused["running_task_type"]) == ("revoke", "grant")
    assert rig.observer.finished.count(("revoke", "not_run")) == 1


class LargeGrants(StubProvisioner):
    """Grants whose result carries `size` bytes (a connector answering with a large grant), each report as large."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    async def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> Any:
        result = await super().grant(principal, entitlement)
        result.grants[0].annotations.append(any_pb2.Any(type_url=PADDING, value=b"g" * self.size))
        return result


async def test_reports_being_retried_are_held_within_the_budget_of_task_bytes() -> None:
    """Small tasks with large reports (300 KiB each), every report refused: the reports, not the tasks, hold the
    memory, and they were counted nowhere: all eight tasks were claimed and their 2.4 MiB of reports held against a
    budget of 2 MiB. Now each report's bytes are held in the budget, and polling waits once they fill it."""
    tasks = [grant_task("role", f"r{n}", "member", f"u{n}") for n in range(8)]
    client = RefusesReports({task.id for task in tasks})
    client.max_task_bytes = 1 * MiB
    client.poll_script.extend(Response(task=task) for task in tasks)
    rig = make_rig(client=client)
    rig.connector.provisioning = LargeGrants(300 * KiB)
    budget = 2 * MiB
    scheduler = _scheduler(client, rig, concurrency=10, task_bytes=budget)
    stop = asyncio.Event()
    with structlog.testing.capture_logs() as events:
        polling = asyncio.create_task(scheduler.run(stop))
        await _until(
            lambda: len(client.retrying) == len(tasks) or any(e["event"] == WAITING for e in events),
            "the reports were never all retried, nor did the polling wait",
        )
        (waiting,) = [e for e in events if e["event"] == WAITING]
        assert len(client.handed) < len(tasks)
        # Held by the reports: the tasks' answers are a few hundred bytes together.
        assert budget - client.max_task_bytes < waiting["held_bytes"] <= budget + 300 * KiB
        client.accept.set()
        await _until(lambda: len(client.reported()) == len(tasks), "not every task was reported")
        stop.set()
        await polling
    await scheduler.drain(1.0)
    assert sorted(client.reported()) == sorted(task.id for task in tasks)
    assert scheduler.in_flight == 0


async def test_a_task_cancelled_before_its_first_step_gives_its_slot_and_bytes_back() -> None:
    """The whole service cancelled in the loop turn a task was handed out in: the task runs no code of its own. Its
    slot and its answer's bytes come back all the same (they were given back by a `finally` of a coroutine that never
    ran)."""
    client = RefusesReports(set())
    client.max_task_bytes = 1 * MiB
    rig = make_rig(client=client)
    scheduler = _scheduler(client, rig, concurrency=1, task_bytes=2 * MiB)
    await scheduler._slots.acquire()
    await scheduler._budget.take(1 * MiB, lambda: None)
    scheduler._start(grant_task("role", "r", "member", "u"), 0.0, held=1 * MiB)
    for running in list(scheduler._running):
        running.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert scheduler.in_flight == 0
    assert scheduler._budget.held == 0
    assert not scheduler._slots.locked(), "the slot was never given back"
    assert rig.connector.provisioning.calls == []
