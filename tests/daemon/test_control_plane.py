"""The control plane in process: scheduler, Hello loop and readiness, with a scripted client, a recording
pause and an injected clock. No server, no sleeps: each test runs in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from typing import Any, cast

import grpc
import httpx
import pytest
import structlog
from google.protobuf import duration_pb2

from connector.baton.c1 import TokenSource, parse_client_id, parse_client_secret
from connector.baton.c1.client import RpcResult
from connector.baton.c1.errors import (
    C1AuthRejectedError,
    C1FatalError,
    C1ResponseTooLargeError,
    C1TransientError,
    C1UnreadableTaskError,
)
from connector.baton.c1.token import TokenFetch
from connector.baton.errors import Code, UnavailableError
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.retry import RetryPolicy
from connector.baton.runtime import scheduler as scheduler_module
from connector.baton.runtime.scheduler import MAX_NEXT_POLL, MIN_IDLE_POLL, Scheduler
from connector.baton.runtime.service import (
    MIN_READY_WINDOW,
    Readiness,
    StartupRefused,
    StartupVerdict,
    _hello_until_ok,
    check_connector,
    listen_fault,
)
from connector.baton.tasks.processor import TaskProcessor
from tests.baton.tasks.stubs import INSTANT, Rig, StubClient, make_rig
from tests.fakes.c1 import generate_client_credentials
from tests.fakes.tasks import grant_task, kind_task, revoke_task

Response = baton_pb2.BatonServiceGetTaskResponse
UNAVAILABLE = C1TransientError("GetTask: ConductorOne at c1:443 unreachable: connection refused (UNAVAILABLE)")


class Pauses:
    """The scheduler's pause between polls: records each delay and returns at once; sets `stop` after `limit`."""

    def __init__(self, stop: asyncio.Event, limit: int) -> None:
        self.delays: list[float] = []
        self._stop, self._limit = stop, limit

    async def __call__(self, stop: asyncio.Event, seconds: float) -> bool:
        self.delays.append(seconds)
        if len(self.delays) >= self._limit:
            self._stop.set()
        await asyncio.sleep(0)
        return stop.is_set()


def _next_poll(seconds: int, nanos: int = 0) -> Response:
    return Response(next_poll=duration_pb2.Duration(seconds=seconds, nanos=nanos))


async def _run(
    client: StubClient, processor: TaskProcessor, *, pauses: int, retry: RetryPolicy = INSTANT
) -> tuple[Scheduler, Pauses]:
    stop = asyncio.Event()
    recorder = Pauses(stop, pauses)
    scheduler = Scheduler(client.as_client(), processor, concurrency=2, poll_retry=retry, wait=recorder)
    await asyncio.wait_for(scheduler.run(stop), timeout=10)
    await scheduler.drain(1.0)
    return scheduler, recorder


async def test_poll_failures_back_off_under_the_policy_and_reset_on_success() -> None:
    rig = make_rig()
    rig.client.poll_script.extend([UNAVAILABLE] * 6 + [_next_poll(2)] + [UNAVAILABLE])
    retry = RetryPolicy(base_delay=1.0, max_delay=8.0)
    with structlog.testing.capture_logs() as events:
        _, pauses = await _run(rig.client, rig.processor, pauses=8, retry=retry)
    failures, success, after = pauses.delays[:6], pauses.delays[6], pauses.delays[7]
    caps = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # exponential, capped; full jitter below each cap
    assert all(0 <= d <= cap for d, cap in zip(failures, caps, strict=True)), failures
    assert success == 2.0  # next_poll honoured
    assert 0 <= after <= 1.0  # the backoff started over
    logged = [e for e in events if e["event"] == "polling ConductorOne failed"]
    assert len(logged) == 7
    assert "connection refused" in logged[0]["error"]


async def test_a_poll_waits_at_least_the_retry_delay_conductorone_asks_for_and_never_less_than_its_backoff() -> None:
    """RetryInfo on a refused poll (RESOURCE_EXHAUSTED: slow down) is honoured up to the policy's cap; a hint shorter
    than the backoff (0 s, from a broken or hostile server) does not make the loop spin."""
    rig = make_rig()
    asked = [30.0, 10_000.0, 0.0, 0.0]
    rig.client.poll_script.extend(
        C1TransientError("GetTask: RESOURCE_EXHAUSTED", code=grpc.StatusCode.RESOURCE_EXHAUSTED, retry_after=hint)
        for hint in asked
    )
    retry = RetryPolicy(base_delay=1.0, max_delay=8.0, max_hinted_delay=120.0)
    _, pauses = await _run(rig.client, rig.processor, pauses=len(asked), retry=retry)
    assert pauses.delays[:2] == [30.0, 120.0]
    # Each refusal was followed by a pause (the backoff's, under caps of 4 and 8 s), none by an immediate poll.
    assert rig.client.polls == len(asked)
    assert all(delay > 0 for delay in pauses.delays)


async def test_a_task_too_large_to_receive_is_told_at_error_once_per_burst_and_polled_with_backoff() -> None:
    """ConductorOne keeps offering a task over the gRPC message limit: nothing here can make it fit, and §3.2 backs
    off any failed poll. The operator hears it once at error (naming the limit) per run of such failures."""
    too_large = C1ResponseTooLargeError(
        "GetTask: ConductorOne's answer of 40000000 bytes is over the client's 33554432-byte gRPC message limit",
        method="GetTask",
        limit=33554432,
    )
    rig = make_rig()
    rig.client.poll_script.extend([too_large] * 5 + [_next_poll(2)] + [too_large, UNAVAILABLE, too_large])
    retry = RetryPolicy(base_delay=1.0, max_delay=8.0)
    with structlog.testing.capture_logs() as events:
        _, pauses = await _run(rig.client, rig.processor, pauses=9, retry=retry)
    caps = [1.0, 2.0, 4.0, 8.0, 8.0]
    assert all(0 <= d <= cap for d, cap in zip(pauses.delays[:5], caps, strict=True)), pauses.delays
    told = [e for e in events if e["log_level"] == "error"]
    assert len(told) == 2, "once for each run of failures, not once per poll"
    assert all(e["limit_bytes"] == 33554432 and "gRPC message limit" in e["event"] for e in told)
    assert len([e for e in events if e["event"] == "polling ConductorOne failed"]) == 4 + 2


@pytest.mark.parametrize(
    ("seconds", "nanos", "expected"),
    [
        (10**11, 0, MAX_NEXT_POLL),  # far beyond timedelta's range: Duration.ToTimedelta() raises on it
        (315_576_000_001, 999_999_999, MAX_NEXT_POLL),  # beyond the Duration spec itself
        (2**63 - 1, 0, MAX_NEXT_POLL),
        (-5, 0, 0.0),
        (-(2**63), -999_999_999, 0.0),
        (1, -600_000_000, 0.4),  # mixed signs (invalid): read as the sum, then clamped
        (0, 2**31 - 1, 2.147483647),  # nanos beyond a second (invalid): read as the sum
        (7, 500_000_000, 7.5),
    ],
)
async def test_next_poll_is_clamped_whatever_conductorone_sends(seconds: int, nanos: int, expected: float) -> None:
    rig = make_rig()
    # With a task, so the pause is next_poll itself (an idle answer has a floor).
    rig.client.poll_script.append(
        Response(task=kind_task("event_feed"), next_poll=duration_pb2.Duration(seconds=seconds, nanos=nanos))
    )
    scheduler, pauses = await _run(rig.client, rig.processor, pauses=1)
    assert scheduler.poll_interval == pytest.approx(expected)
    assert pauses.delays == ([pytest.approx(expected)] if expected > 0 else pauses.delays[:1])


async def test_an_idle_queue_answering_next_poll_zero_is_not_polled_in_a_spin() -> None:
    rig = make_rig()
    rig.client.poll_script.extend([_next_poll(0), Response(), _next_poll(-1)])
    _, pauses = await _run(rig.client, rig.processor, pauses=3)
    assert pauses.delays == [MIN_IDLE_POLL] * 3


async def test_answers_holding_a_task_that_will_not_run_are_paced_as_idle_ones() -> None:
    """ConductorOne re-offering a grant still running (waiting on Datadog, no heartbeat to tell it the task lives), or
    a task with an invalid id, with next_poll 0: nothing runs, and the poll loop must not spin on it."""
    rig = make_rig()
    rig.connector.provisioning.gate = gate = asyncio.Event()
    running = grant_task("role", "r", "member", "u")
    invalid = grant_task("role", "r", "member", "u")
    invalid.id = "short"
    unreadable = C1UnreadableTaskError("GetTask: undecodable", task_id="", task_type=None, problem="x", next_poll=None)
    rig.client.poll_script.extend([Response(task=running), Response(task=running), Response(task=invalid), unreadable])
    stop = asyncio.Event()
    pauses = Pauses(stop, 3)
    scheduler = Scheduler(rig.client.as_client(), rig.processor, concurrency=2, poll_retry=INSTANT, wait=pauses)
    await asyncio.wait_for(scheduler.run(stop), timeout=10)
    gate.set()
    await scheduler.drain(10.0)
    assert rig.client.polls == 4
    assert pauses.delays == [MIN_IDLE_POLL] * 3
    assert [f.task_id for f in rig.client.finishes] == [running.id]
    assert rig.connector.provisioning.calls == ["grant"]


async def test_tasks_run_and_every_one_is_reported_once_and_nothing_is_left_unretrieved() -> None:
    rig = make_rig()
    good, no_payload = grant_task("role", "r", "member", "u"), baton_pb2.Task(id=kind_task("grant").id)
    bad = grant_task("role", "r", "member", "u")
    bad.id = "x" * 5000
    rig.client.poll_script.extend(
        [Response(task=t) for t in (good, no_payload, bad)] + [Response(task=baton_pb2.Task()), Response()]
    )
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: unhandled.append(context))
    try:
        with structlog.testing.capture_logs() as events:
            scheduler, _ = await _run(rig.client, rig.processor, pauses=6)
    finally:
        loop.set_exception_handler(None)
    assert scheduler.in_flight == 0
    assert rig.observer.in_flight == 0
    assert sorted(f.task_id for f in rig.client.finishes) == sorted([good.id, no_payload.id])
    assert [f.code for f in rig.client.finishes if f.task_id == no_payload.id] == [Code.UNKNOWN]
    (invalid,) = [e for e in events if str(e["event"]).startswith("invalid task")]
    assert "5000 chars" in str(invalid["task_id"])
    assert unhandled == []  # no "Task exception was never retrieved"


class RefusesOneReport(StubClient):
    """A ConductorOne whose FinishTask refuses one task's report (PERMISSION_DENIED, which the report table retries)
    until `accept` is set, while GetTask and every other report work."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused
        self.accept = asyncio.Event()
        self.retried = asyncio.Event()

    async def finish_task(self, task_id: str, **kwargs: Any) -> baton_pb2.BatonServiceFinishTaskResponse:
        if task_id == self.refused and not self.accept.is_set():
            if self.finish_attempts:
                self.retried.set()
            self.finish_attempts += 1
            raise C1FatalError("FinishTask: PERMISSION_DENIED: not now", code=grpc.StatusCode.PERMISSION_DENIED)
        return await super().finish_task(task_id, **kwargs)


def _grant_then_revoke_on_one_slot() -> tuple[
    baton_pb2.Task, baton_pb2.Task, RefusesOneReport, Rig, Scheduler, asyncio.Event
]:
    """A grant whose report ConductorOne refuses until `accept` is set, then a revoke, polled by a scheduler of one
    task slot: the grant, the revoke, the client, the rig, the scheduler and the event that stops its polling."""
    grant = grant_task("role", "r", "member", "u")
    revoke = revoke_task("role", "r2", "member", "u2")
    client = RefusesOneReport(grant.id)
    rig = make_rig(client=client)
    client.poll_script.extend([Response(task=grant), Response(task=revoke)])
    stop = asyncio.Event()
    scheduler = Scheduler(
        client.as_client(), rig.processor, concurrency=1, poll_retry=INSTANT, wait=Pauses(stop, 10**9)
    )
    return grant, revoke, client, rig, scheduler, stop


async def test_a_report_retried_for_good_gives_its_task_slot_to_the_next_task() -> None:
    """With one task slot, a grant whose FinishTask ConductorOne keeps refusing (while GetTask answers) held the slot
    for as long as its report was retried, until the process stopped: the revoke queued behind it never ran, and the
    access stayed. Its work done, a retrying report gives its slot back; it still lands once ConductorOne takes it."""
    grant, revoke, client, rig, scheduler, stop = _grant_then_revoke_on_one_slot()
    polling = asyncio.create_task(scheduler.run(stop))
    async with asyncio.timeout(10):  # not a measure: a failure instead of a hang
        await client.retried.wait()
        while revoke.id not in {finish.task_id for finish in client.finishes}:
            await client.wait_finish_attempts(client.finish_attempts + 1)
    assert rig.connector.provisioning.calls == ["grant", "revoke"]
    assert grant.id not in {finish.task_id for finish in client.finishes}  # still being retried
    client.accept.set()
    async with asyncio.timeout(10):
        while grant.id not in {finish.task_id for finish in client.finishes}:
            await client.wait_finish_attempts(client.finish_attempts + 1)
    stop.set()
    await polling
    await scheduler.drain(1.0)
    assert [finish.ok for finish in client.finishes] == [True, True]
    assert scheduler.in_flight == 0


async def test_past_the_bound_a_retrying_report_keeps_its_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each retrying report holds its outcome (up to MAX_REPORT_BYTES): past RETRYING_REPORTS_MAX of them without a
    slot, the next one keeps its slot, as every one did before, so memory stays bounded whatever ConductorOne refuses."""
    monkeypatch.setattr(scheduler_module, "RETRYING_REPORTS_MAX", 0)
    _, revoke, client, rig, scheduler, stop = _grant_then_revoke_on_one_slot()
    polling = asyncio.create_task(scheduler.run(stop))
    async with asyncio.timeout(10):
        await client.retried.wait()
    for _ in range(50):
        await asyncio.sleep(0)
    assert rig.connector.provisioning.calls == ["grant"]  # the slot is still the grant's
    client.accept.set()
    async with asyncio.timeout(10):
        while revoke.id not in {finish.task_id for finish in client.finishes}:
            await client.wait_finish_attempts(client.finish_attempts + 1)
    stop.set()
    await polling
    await scheduler.drain(1.0)
    assert rig.connector.provisioning.calls == ["grant", "revoke"]


async def test_a_task_that_does_not_decode_is_reported_failed_once_and_polling_goes_on() -> None:
    """Known only by its id, a task that does not decode is reported failed, non-retryable (the same bytes never
    decode here), its type counted; read whole or not at all, it was never reported and ConductorOne kept offering
    it, every poll failing on it."""
    rig = make_rig()
    poisoned, good = kind_task("grant").id, grant_task("role", "r", "member", "u")
    unreadable = C1UnreadableTaskError(
        "GetTask: ConductorOne's grant could not be decoded (String field had bad UTF-8)",
        task_id=poisoned,
        task_type="grant",
        problem="String field had bad UTF-8",
        next_poll=duration_pb2.Duration(seconds=4),
    )
    rig.client.poll_script.extend([unreadable, Response(task=good)])
    scheduler, pauses = await _run(rig.client, rig.processor, pauses=3)
    assert scheduler.poll_interval == 0.0  # the last answer's pace; the unreadable one's was 4 s
    assert pauses.delays[0] == 4.0
    (report,) = [f for f in rig.client.finishes if f.task_id == poisoned]
    assert (report.ok, report.code, report.non_retryable) == (False, Code.INVALID_ARGUMENT, True)
    assert report.message == "malformed task: it could not be decoded (String field had bad UTF-8); not run"
    assert [f.task_id for f in rig.client.finishes if f.ok] == [good.id]
    assert rig.connector.provisioning.calls == ["grant"]  # the good grant only
    assert ("grant", "failed_final") in rig.observer.finished


async def test_a_processor_that_raises_is_logged_not_left_unretrieved() -> None:
    rig = make_rig()

    async def broken(
        task: baton_pb2.Task, unreadable: C1UnreadableTaskError | None = None, *, report_retrying: object = None
    ) -> None:
        raise RuntimeError("processor bug")

    rig.processor.process = broken  # type: ignore[method-assign]
    rig.client.poll_script.append(Response(task=grant_task("role", "r", "member", "u")))
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, object]] = []
    loop.set_exception_handler(lambda _, context: unhandled.append(context))
    try:
        with structlog.testing.capture_logs() as events:
            await _run(rig.client, rig.processor, pauses=3)
    finally:
        loop.set_exception_handler(None)
    (failed,) = [e for e in events if e["event"] == "task runner failed"]
    assert isinstance(failed["exc_info"], RuntimeError)
    assert unhandled == []


async def test_drain_cancels_a_report_still_retrying_and_it_is_logged() -> None:
    client = StubClient()
    client.finish_script.extend([C1TransientError("down")] * 1_000_000)
    rig = make_rig(client=client, finish_retry=RetryPolicy(base_delay=5.0, max_delay=5.0))
    task = grant_task("role", "r", "member", "u")
    stop = asyncio.Event()
    scheduler = Scheduler(client.as_client(), rig.processor, concurrency=1, wait=Pauses(stop, 1))
    client.poll_script.append(Response(task=task, next_poll=duration_pb2.Duration(seconds=1)))
    with structlog.testing.capture_logs() as events:
        await scheduler.run(stop)
        await client.wait_finish_attempts(1)
        await scheduler.drain(0.01, report_within=0.01)
    assert scheduler.in_flight == 0
    (lost,) = [e for e in events if e["event"] == "task not reported to ConductorOne"]
    assert (lost["task_id"], lost["outcome"]) == (task.id, "success")


async def test_a_hello_task_still_unanswered_when_the_drain_ends_is_logged_at_error() -> None:
    """A hello task's acknowledgement is its Hello; one ConductorOne has not answered when the drain gives up is
    cancelled like any straggler, and the log line is then its only trace (it ended without a word)."""

    async def unanswered(task_id: str, awaiting: object) -> None:
        await asyncio.Event().wait()

    rig = make_rig(hello=unanswered)
    task = kind_task("hello")
    stop = asyncio.Event()
    scheduler = Scheduler(rig.client.as_client(), rig.processor, concurrency=1, wait=Pauses(stop, 1))
    rig.client.poll_script.append(Response(task=task, next_poll=duration_pb2.Duration(seconds=1)))
    with structlog.testing.capture_logs() as events:
        await scheduler.run(stop)
        await scheduler.drain(0.01, report_within=0.01)
    assert scheduler.in_flight == 0
    (lost,) = [e for e in events if e["event"] == "hello task not answered"]
    assert (lost["log_level"], lost["task_id"]) == ("error", task.id)
    assert rig.observer.in_flight == 0


async def test_a_periodic_sync_saving_at_sigterm_does_not_hold_back_the_drain_of_the_tasks() -> None:
    """SIGTERM stops the periodic sync, which then saves its partial sync to --file (seconds for a large org). The
    tasks' grace runs meanwhile, not after it: the pod's termination grace (35 s) is sized for the tasks' (25 s) plus
    their reports, and a drain begun only once the save ended was SIGKILLed with its tasks unreported, unlogged.
    Here the save ends only once the stuck grant is reported, which only the drain's abandon can do."""
    rig = make_rig()
    rig.connector.provisioning.gate = asyncio.Event()  # never opens: a grant stuck on a slow Datadog
    started, saved = asyncio.Event(), asyncio.Event()

    async def periodic_sync() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            while not rig.client.finishes:  # the partial sync being saved
                await rig.client.wait_finish_attempts(rig.client.finish_attempts + 1)
            saved.set()
            raise

    stop = asyncio.Event()
    scheduler = Scheduler(
        rig.client.as_client(), rig.processor, concurrency=1, periodic=(3600.0, periodic_sync), wait=Pauses(stop, 100)
    )
    task = grant_task("role", "r", "member", "u")
    rig.client.poll_script.append(Response(task=task))
    running = asyncio.create_task(scheduler.run(stop))
    await started.wait()
    await rig.connector.provisioning.entered.wait()
    stop.set()
    # Bounds a hang only (without the fix: the run waits on the save, the save on the drain, the drain on the run).
    await asyncio.wait_for(running, timeout=10)
    await asyncio.wait_for(scheduler.drain(0.01, report_within=0.01), timeout=10)
    assert saved.is_set()  # the drain waited for the periodic sync's save too
    (report,) = rig.client.finishes
    assert (report.task_id, report.ok, report.code) == (task.id, False, Code.UNAVAILABLE)
    assert scheduler.in_flight == 0


@pytest.mark.parametrize(
    ("error", "traceback"),
    [
        (UnavailableError("Datadog unavailable: GET /api/v2/users -> 503"), False),
        (TimeoutError(), False),
        (RuntimeError("a bug"), True),
    ],
)
async def test_a_failed_periodic_sync_is_one_error_line_with_a_traceback_only_for_a_bug(
    error: Exception, traceback: bool
) -> None:
    """A periodic sync failing on Datadog (an outage, a refusal) logged its traceback at every interval; a task's sync
    failing the same way logs none (`TaskProcessor`), and the traceback is for bugs."""
    rig = make_rig()
    stop = asyncio.Event()

    async def periodic_sync() -> None:
        stop.set()
        raise error

    scheduler = Scheduler(
        rig.client.as_client(), rig.processor, concurrency=1, periodic=(3600.0, periodic_sync), wait=Pauses(stop, 100)
    )
    with structlog.testing.capture_logs() as events:
        await asyncio.wait_for(scheduler.run(stop), timeout=10)  # bounds a hang only
        await asyncio.wait_for(scheduler.drain(0.01, report_within=0.01), timeout=10)
    (failed,) = [e for e in events if e["event"] == "periodic sync failed"]
    assert (failed["log_level"], failed["error_type"]) == ("error", type(error).__name__)
    assert ("exc_info" in failed) == traceback


@pytest.mark.parametrize("when", ["running", "saving at stop"])
async def test_a_periodic_sync_failing_on_upstream_input_logs_its_error_without_a_traceback(when: str) -> None:
    """A periodic sync failing on what Datadog answered (an outage, a page that does not hold) is an error of ours
    that names its cause, not a bug: it was logged with a traceback, which no peer input may produce. A bug keeps
    its traceback."""
    stop = asyncio.Event()
    failures: list[Exception] = [UnavailableError("Datadog at api.datadoghq.com unreachable: connection refused")]
    failures.append(KeyError("a bug"))

    async def periodic_sync() -> None:
        failure = failures.pop(0)
        if when == "saving at stop":
            stop.set()  # and the failure comes while the stopped sync saves
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.Event().wait()
        elif not failures:
            stop.set()
        raise failure

    rig = make_rig()
    with structlog.testing.capture_logs() as events:
        while failures:
            stop.clear()
            scheduler = Scheduler(
                rig.client.as_client(),
                rig.processor,
                concurrency=1,
                periodic=(0.0, periodic_sync),
                wait=Pauses(stop, 100),
            )
            await asyncio.wait_for(scheduler.run(stop), timeout=10)
            await asyncio.wait_for(scheduler.drain(1.0), timeout=10)
    upstream, bug = [e for e in events if e["event"] == "periodic sync failed"]
    assert upstream["error_type"] == "UnavailableError"
    assert "connection refused" in upstream["error"]
    assert "exc_info" not in upstream
    assert bug["error_type"] == "KeyError"
    assert "exc_info" in bug


# ---- the Hello loop -----------------------------------------------------------------------------------------


async def test_hello_is_retried_on_transient_failures_until_it_succeeds() -> None:
    answers: list[Exception | None] = [C1TransientError("down")] * 4 + [None]

    async def hello() -> None:
        answer = answers.pop(0)
        if answer is not None:
            raise answer

    with structlog.testing.capture_logs() as events:
        assert await _hello_until_ok(hello, asyncio.Event(), INSTANT)
    retries = [e for e in events if e["event"] == "Hello failed; retrying"]
    assert [e["attempt"] for e in retries] == [1, 2, 3, 4]
    assert all(e["retry_in_seconds"] <= INSTANT.max_delay for e in retries)


async def test_hello_waits_the_retry_delay_conductorone_asks_for() -> None:
    answers: list[Exception | None] = [
        C1TransientError("Hello: RESOURCE_EXHAUSTED", code=grpc.StatusCode.RESOURCE_EXHAUSTED, retry_after=0.05),
        None,
    ]

    async def hello() -> None:
        answer = answers.pop(0)
        if answer is not None:
            raise answer

    with structlog.testing.capture_logs() as events:
        assert await _hello_until_ok(hello, asyncio.Event(), INSTANT)
    (retry,) = [e for e in events if e["event"] == "Hello failed; retrying"]
    assert retry["retry_in_seconds"] == 0.05


@pytest.mark.parametrize(
    ("refusal", "check"),
    [
        # The API refused the Hello after the token endpoint issued a token: not (only) the secret's fault.
        (C1FatalError("Hello: PERMISSION_DENIED", code=grpc.StatusCode.PERMISSION_DENIED), "BATON_C1_API_HOST"),
        (
            C1AuthRejectedError(
                "failed to get a token from c1.example:443: HTTP 401 Unauthorized (invalid_client)", status_code=401
            ),
            "check BATON_CLIENT_ID / BATON_CLIENT_SECRET",
        ),
    ],
)
async def test_hello_stops_on_a_refusal(refusal: Exception, check: str) -> None:
    calls = 0

    async def hello() -> None:
        nonlocal calls
        calls += 1
        raise refusal

    with pytest.raises(StartupRefused, match=r"^ConductorOne refused the connector; ") as refused:
        await _hello_until_ok(hello, asyncio.Event(), INSTANT)
    assert check in str(refused.value)
    assert calls == 1


async def test_hello_gives_way_to_a_stop() -> None:
    stop = asyncio.Event()

    async def hello() -> None:
        stop.set()
        raise C1TransientError("down")

    assert not await _hello_until_ok(hello, stop, RetryPolicy(base_delay=60.0, max_delay=60.0))


class EndsAtOnce:
    """A task processor whose tasks end in their first loop turn, reporting nothing."""

    def takes(self, task_id: str, kind: str | None = None) -> bool:
        return True

    async def process(self, task: baton_pb2.Task, unreadable: object = None, *, report_retrying: object = None) -> None:
        return None

    def abandon_all(self, reason: str, finish_within: float) -> None:
        raise AssertionError("no task was left running to abandon")


async def test_the_drain_counts_only_tasks_that_are_still_running() -> None:
    """A task that ended in the loop turn the poll loop stopped in (its done callback not yet run) was counted by the
    drain's "draining" line: an operator read a task being waited for where none ran. `in_flight` counts the same."""
    rig = make_rig()
    rig.client.poll_script.append(
        Response(task=grant_task("role", "r", "member", "u"), next_poll=_next_poll(1).next_poll)
    )
    stop = asyncio.Event()
    scheduler = Scheduler(rig.client.as_client(), cast(Any, EndsAtOnce()), concurrency=2, wait=Pauses(stop, 1))
    await scheduler.run(stop)  # awaited in this task: the drain starts in the turn the poll loop stopped in
    with structlog.testing.capture_logs() as events:
        assert scheduler.in_flight == 0
        await scheduler.drain(10.0)
    assert [e for e in events if e["event"] == "draining"] == []


# ---- the connector's start-up check ------------------------------------------------------------------------


class Upstream:
    """A connector whose start-up check raises `error`, or never answers when it is None."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error
        self.cancelled = False

    async def validate(self) -> None:
        if self.error is not None:
            raise self.error
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


class KeyVerdicts:
    """The app's reading of a check's error: a PermissionError is a refused key (fatal), any other a warning."""

    def startup_verdict(self, error: Exception) -> StartupVerdict:
        return StartupVerdict(isinstance(error, PermissionError), "the key check said no")


async def test_a_start_up_check_without_an_answer_no_longer_holds_the_hello() -> None:
    """An upstream that never answers (or keeps rate limiting) held the Hello, readiness and every task for as long
    as its retries lasted; the pod read as waiting for ConductorOne. Past its bound the check is left with a
    warning, as a failed check is, and not left running."""
    upstream = Upstream(None)
    with structlog.testing.capture_logs() as events:
        await asyncio.wait_for(
            check_connector(cast(Any, KeyVerdicts()), cast(Any, upstream), asyncio.Event(), bound=0.05), 10
        )
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert warning["event"] == "the connector's start-up check did not finish in time; continuing"
    assert upstream.cancelled


async def test_a_start_up_check_that_answers_in_time_keeps_its_verdict() -> None:
    with pytest.raises(StartupRefused, match="the key check said no"):
        await check_connector(cast(Any, KeyVerdicts()), cast(Any, Upstream(PermissionError())), asyncio.Event())
    with structlog.testing.capture_logs() as events:
        await check_connector(cast(Any, KeyVerdicts()), cast(Any, Upstream(TimeoutError())), asyncio.Event())
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert warning["event"] == "the key check said no", "an upstream's own timeout is its error, not the bound's"


class RefusedAtTheBound:
    """A start-up check whose refusal comes in the very loop turn its bound expires in: the clock passes the bound
    while the upstream answers."""

    def __init__(self, loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch) -> None:
        self._loop, self._monkeypatch = loop, monkeypatch

    async def validate(self) -> None:
        later = self._loop.time() + 3600.0
        self._monkeypatch.setattr(self._loop, "time", lambda: later)
        raise PermissionError("refused")


async def test_a_start_up_check_that_finishes_as_its_bound_expires_keeps_its_verdict(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A refused key answered in the turn the 60 s bound ran out in was logged as "did not finish in time" and the
    service carried on with keys Datadog refuses; the check did finish, and its verdict stands."""
    upstream = RefusedAtTheBound(asyncio.get_running_loop(), monkeypatch)
    with structlog.testing.capture_logs() as events, pytest.raises(StartupRefused, match="the key check said no"):
        await check_connector(cast(Any, KeyVerdicts()), cast(Any, upstream), asyncio.Event(), bound=60.0)
    assert [e["event"] for e in events] == ["the key check said no"]


# ---- readiness ------------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _ok(method: str = "GetTask") -> RpcResult:
    return RpcResult(method=method, code="OK", seconds=0.01)


def test_ready_only_after_hello_and_while_conductorone_answers() -> None:
    clock = Clock()
    readiness = Readiness(clock=clock)
    assert readiness() == (False, "waiting for a successful Hello to ConductorOne")
    readiness.on_call(_ok("Hello"))
    readiness.hello_ok = True
    assert readiness() == (True, "")
    clock.now += MIN_READY_WINDOW - 1
    readiness.on_call(RpcResult(method="GetTask", code="UNAVAILABLE", seconds=1.0))  # a failure is no contact
    assert readiness()[0]
    clock.now += 2
    ready, why = readiness()
    assert not ready
    assert why == "ConductorOne not reached for 61 s (window 60 s); last failure: GetTask UNAVAILABLE"
    readiness.on_call(_ok())
    assert readiness() == (True, "")


def test_the_window_is_three_poll_intervals_when_that_is_longer() -> None:
    clock = Clock()
    interval = 0.0
    readiness = Readiness(clock=clock, poll_interval=lambda: interval)
    readiness.hello_ok = True
    readiness.contact()
    interval = 100.0
    assert readiness.window == 300.0
    readiness.on_call(RpcResult(method="GetTask", code="UNAVAILABLE", seconds=1.0))
    clock.now += 299
    assert readiness()[0]
    clock.now += 2
    assert not readiness()[0]


def test_time_without_any_call_is_not_an_outage() -> None:
    # Every slot busy with a grant (no heartbeats, no polls): nothing failed, so the pod stays ready however long.
    clock = Clock()
    readiness = Readiness(clock=clock)
    readiness.hello_ok = True
    readiness.on_call(_ok("Hello"))
    clock.now += 10 * MIN_READY_WINDOW
    assert readiness() == (True, "")
    readiness.on_call(RpcResult(method="Heartbeat", code="DEADLINE_EXCEEDED", seconds=30.0))
    assert readiness() == (
        False,
        "ConductorOne not reached for 600 s (window 60 s); last failure: Heartbeat DEADLINE_EXCEEDED",
    )


def test_a_failed_token_fetch_is_a_failure_to_reach_conductorone() -> None:
    # No RPC is made without a token: the fetch's failure is the only sign that ConductorOne cannot be reached.
    clock = Clock()
    readiness = Readiness(clock=clock)
    readiness.hello_ok = True
    readiness.on_call(_ok("Hello"))
    readiness.on_token_fetch(TokenFetch(ok=True, status_code=200, seconds=0.1))
    clock.now += MIN_READY_WINDOW + 1
    assert readiness()[0]
    readiness.on_token_fetch(TokenFetch(ok=False, status_code=503, seconds=0.1))
    assert not readiness()[0]
    readiness.on_call(_ok())
    assert readiness() == (True, "")


async def test_a_token_request_unanswered_for_longer_than_the_window_is_a_failure_to_reach_conductorone() -> None:
    """A token endpoint that takes the request and never answers fails the fetch only at the token timeout
    (BATON_HTTP_TIMEOUT_SECONDS, up to 30 min); meanwhile no call is made and none fails, and the pod stayed ready for
    that long while nothing reached ConductorOne. Past the window the request under way is the failure."""
    clock = Clock()
    taken = asyncio.Event()

    async def silent(_: httpx.Request) -> httpx.Response:
        taken.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    credentials = generate_client_credentials("acme.conductor.one")
    tokens = TokenSource(
        parse_client_id(credentials.client_id),
        parse_client_secret(credentials.client_secret),
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(silent)),
        timeout=1800.0,
        clock=clock,
    )
    readiness = Readiness(clock=clock)
    readiness.token_asked_since = lambda: tokens.asking_since
    readiness.hello_ok = True
    readiness.on_call(_ok("Hello"))
    fetching = asyncio.create_task(tokens.token())
    await taken.wait()
    clock.now += MIN_READY_WINDOW
    assert readiness() == (True, "")  # not yet longer than the window
    clock.now += 1
    ready, reason = readiness()
    assert not ready
    assert reason.endswith("; a token request unanswered for 61 s")
    fetching.cancel()
    await tokens.aclose()
    assert tokens.asking_since is None


def test_draining_is_not_ready_even_with_fresh_contact() -> None:
    readiness = Readiness(clock=Clock())
    readiness.hello_ok = True
    readiness.contact()
    readiness.draining = True
    assert readiness() == (False, "draining")


def test_a_stop_asked_by_the_runners_caller_is_draining_as_a_signal_is() -> None:
    stop = asyncio.Event()
    readiness = Readiness(clock=Clock(), stop=stop)
    readiness.hello_ok = True
    readiness.contact()
    assert readiness() == (True, "")
    stop.set()
    assert readiness() == (False, "draining")


def test_a_stub_client_is_a_client() -> None:
    # The stub answers what the scheduler and processor call; the cast is the only seam.
    assert cast(object, StubClient().as_client()) is not None


@pytest.mark.parametrize(
    ("error", "setting"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "health_check_bind_address"),
        (OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address"), "health_check_bind_address"),
        (OSError(errno.EADDRINUSE, "Address already in use"), "health_check_port"),
        (OSError(errno.EACCES, "Permission denied"), "health_check_port"),
    ],
)
def test_a_failed_listen_names_the_setting_at_fault(error: OSError, setting: str) -> None:
    """A bind address that does not resolve used to be blamed on --health-check-port."""
    assert listen_fault(error) == setting
