"""Runs one ConductorOne task to completion and reports it with exactly one FinishTask.

Hello tasks are answered with a Hello carrying the task id (that is their acknowledgement, §3.4); every
other task, including unsupported ones, malformed ones and ones abandoned at shutdown, gets one FinishTask.
FinishTask itself is retried on transient errors, so a ConductorOne outage delays a report but never
loses it (the Go SDK sends it once and drops it on failure).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import structlog
from google.rpc import status_pb2

from connector.baton.c1.client import BatonServiceClient
from connector.baton.c1.errors import C1FatalError, C1TransientError
from connector.baton.errors import Code
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.retry import RetryPolicy
from connector.baton.tasks import action_schemas
from connector.baton.tasks.full_sync import FullSyncHandler
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.outcome import Failure, Outcome, TaskError, failure_from

log = structlog.get_logger(__name__)

# Tasks that change the upstream system: their failures are final (a retry could grant twice).
PROVISIONING_TASKS = frozenset(
    {
        "grant",
        "revoke",
        "create_account",
        "create_resource",
        "delete_resource",
        "rotate_credentials",
        "issue_credential",
        "action_invoke",
    }
)
# Go answers these with "unsupported task type", retryable; so do we, plus every type we do not implement.
UNSUPPORTED = "unsupported task type"


class TaskObserver(Protocol):
    def task_received(self, task_type: str) -> None: ...

    def task_finished(self, task_type: str, outcome: str, seconds: float) -> None: ...


@dataclass(frozen=True, slots=True)
class FinishPolicy:
    """How long to keep trying to report a task while ConductorOne is unreachable."""

    retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(max_attempts=1_000_000, base_delay=1.0, max_delay=30.0)
    )
    give_up_after: float = 3600.0


class TaskProcessor:
    def __init__(
        self,
        client: BatonServiceClient,
        handlers: Handlers,
        full_sync: FullSyncHandler,
        hello: Callable[[str], Awaitable[None]],
        *,
        observer: TaskObserver | None = None,
        finish_policy: FinishPolicy | None = None,
    ) -> None:
        self._client = client
        self._handlers = handlers
        self._full_sync = full_sync
        self._hello = hello
        self._observer = observer
        self._finish = finish_policy or FinishPolicy()
        self._work: dict[str, asyncio.Task[Outcome]] = {}
        self._abandon_reason: str | None = None
        self._finish_deadline: float | None = None

    def abandon_all(self, reason: str, finish_within: float) -> None:
        """Shutdown: stop every running handler; each task is then reported as a retryable failure."""
        self._abandon_reason = reason
        self._finish_deadline = time.monotonic() + finish_within
        for work in self._work.values():
            work.cancel()

    @property
    def running(self) -> int:
        return len(self._work)

    async def process(self, task: baton_pb2.Task) -> None:
        kind = task.WhichOneof("task_type") or "unknown"
        # Bound in the context: every log line of the work below (sync engine, Datadog calls) carries the
        # task id and type, not just the processor's own lines.
        with structlog.contextvars.bound_contextvars(task_id=task.id, task_type=kind):
            await self._process(task, kind, log)

    async def _process(self, task: baton_pb2.Task, kind: str, bound: structlog.typing.FilteringBoundLogger) -> None:
        started = time.monotonic()
        if self._observer is not None:
            self._observer.task_received(kind)
        if kind == "hello":
            await self._answer_hello(task.id, bound)
            if self._observer is not None:
                self._observer.task_finished(kind, "success", time.monotonic() - started)
            return
        bound.info("task started")
        work = asyncio.create_task(self._dispatch(kind, task), name=f"task {task.id}")
        self._work[task.id] = work
        try:
            outcome = await work
        except asyncio.CancelledError:
            reason = self._abandon_reason or "task cancelled"
            outcome = Outcome(failure=Failure(Code.UNAVAILABLE, f"{reason}; ConductorOne may retry it", False))
        except BaseException as exc:
            outcome = Outcome(failure=failure_from(exc, provisioning=kind in PROVISIONING_TASKS))
        finally:
            self._work.pop(task.id, None)
        seconds = time.monotonic() - started
        if outcome.failure is None:
            bound.info("task succeeded", seconds=round(seconds, 3))
        else:
            bound.warning(
                "task failed",
                code=outcome.failure.code.name,
                error=outcome.failure.message,
                non_retryable=outcome.failure.non_retryable,
                seconds=round(seconds, 3),
            )
        await self._report(task.id, outcome, bound)
        if self._observer is not None:
            self._observer.task_finished(kind, outcome.label, seconds)

    async def _dispatch(self, kind: str, task: baton_pb2.Task) -> Outcome:
        h = self._handlers
        if kind == "sync_full":
            return await self._full_sync.run(task.id, task.sync_full)
        if kind == "grant":
            return await h.grant(task.grant)
        if kind == "revoke":
            return await h.revoke(task.revoke)
        if kind == "create_account":
            return await h.create_account(task.create_account)
        if kind == "delete_resource":
            return await h.delete_resource(task.delete_resource)
        if kind == "issue_credential":
            return await h.issue_credential(task.id, task.issue_credential)
        if kind == "action_invoke":
            return await h.invoke_action(task.action_invoke)
        if kind in action_schemas.TASK_TYPES:
            return await action_schemas.answer(h.connector, task)
        raise TaskError(Code.UNKNOWN, UNSUPPORTED, non_retryable=False)

    async def _answer_hello(self, task_id: str, bound: structlog.typing.FilteringBoundLogger) -> None:
        try:
            await self._hello(task_id)
            bound.info("hello task answered")
        except (C1TransientError, C1FatalError) as exc:
            # The Hello is the acknowledgement; a lost one just means ConductorOne sends the task again.
            bound.warning("hello task not answered", error=str(exc))

    async def _report(self, task_id: str, outcome: Outcome, bound: structlog.typing.FilteringBoundLogger) -> None:
        """FinishTask, retried on transient errors until it lands, the policy gives up, or shutdown ends."""
        attempt = 0
        give_up = time.monotonic() + self._finish.give_up_after
        while True:
            attempt += 1
            try:
                if outcome.failure is None:
                    await self._client.finish_task(task_id, response=outcome.response, annotations=outcome.annotations)
                else:
                    await self._client.finish_task(
                        task_id,
                        error=status_pb2.Status(code=int(outcome.failure.code), message=outcome.failure.message),
                        non_retryable=outcome.failure.non_retryable,
                        annotations=outcome.annotations,
                    )
                if attempt > 1:
                    bound.info("task reported after retries", attempts=attempt)
                return
            except C1FatalError as exc:
                bound.error("ConductorOne refused the task report; not retrying", error=str(exc))
                return
            except C1TransientError as exc:
                deadline = min(give_up, self._finish_deadline or give_up)
                delay = self._finish.retry.delay(attempt, rng=random.Random())
                if time.monotonic() + delay > deadline:
                    bound.error(
                        "could not report the task to ConductorOne; giving up", attempts=attempt, error=str(exc)
                    )
                    return
                bound.warning(
                    "task report failed; retrying", attempt=attempt, delay_seconds=round(delay, 2), error=str(exc)
                )
                await asyncio.sleep(delay)
