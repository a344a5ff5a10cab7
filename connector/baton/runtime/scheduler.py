"""The task poller: GetTask in a loop, a bounded number of task slots, backoff, and a clean drain on stop.

A slot is taken before polling, so no task is claimed without capacity to run it (as in the Go runner). Poll
failures back off under the one policy (`POLL_RETRY`, unbounded: polling ends only when the process stops);
`next_poll` is clamped to [0, 5 min] (§3.2), whatever ConductorOne sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import structlog

from connector.baton.c1.client import BatonServiceClient
from connector.baton.c1.durations import clamped_seconds
from connector.baton.c1.errors import C1Error, C1FatalError, C1ResponseTooLargeError, C1UnreadableTaskError
from connector.baton.errors import ConnectorError
from connector.baton.lifecycle import LIFECYCLE
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.retry import Backoff, RetryPolicy
from connector.baton.runtime.stopping import Stopped, until_stopped
from connector.baton.tasks.processor import TaskProcessor

log = structlog.get_logger(__name__)

MAX_NEXT_POLL = 300.0
MIN_IDLE_POLL = 0.1
"""Floor of the pause after an idle poll; after a task, a zero next_poll means "ask again now"."""
POLL_RETRY = RetryPolicy(base_delay=1.0, max_delay=60.0)
"""Backoff between failed polls (Go: n² s capped at 60 s; ours: the same cap, exponential with full jitter)."""
CANCELLED_WITHIN = 0.5
"""The last part of the drain's second after the reports' deadline: a task still running then is cancelled, and one
still running this long after that is cancelled again. An issued credential's deletion (its report given up) answers
the first cancel with one more try, since the deletion may not have reached the provider; waited for without a bound,
a provider that did not answer held the exit past the pod's kill, and no line named the credential left live."""


RETRYING_REPORTS_MAX = 16
"""The most tasks whose report is being retried that do not hold a task slot (`Scheduler._start`)."""
TASK_BYTES_BUDGET = 256 * 1024 * 1024
"""The most bytes the tasks under way hold together, each weighed by its GetTask answer (`salvage.held_bytes`: its
bytes and the parser's cost of its messages). A task holds its decoded answer until it ends, and an answer may be as
large as the client's receive limit (32 MiB): at the largest task concurrency (100) that was 3.2 GiB, against the
chart's 1 GiB memory limit, and the kernel's OOM kill lost every task under way. A poll reserves the most an answer
may hold (`BatonServiceClient.max_task_bytes`) before it is sent, as it takes a slot (no task is claimed without the
memory to hold it), and keeps its task's weight until the task ends or only its report is left, when the report's
bytes are held instead (`_start`); while the budget has no room for one more, polling waits (a line at info each time it
starts to: at most one a task)."""


class Scheduler:
    def __init__(
        self,
        client: BatonServiceClient,
        processor: TaskProcessor,
        *,
        concurrency: int,
        periodic: tuple[float, Callable[[], Awaitable[None]]] | None = None,
        poll_retry: RetryPolicy = POLL_RETRY,
        wait: Callable[[asyncio.Event, float], Awaitable[bool]] | None = None,
        task_bytes: int = TASK_BYTES_BUDGET,
    ) -> None:
        if task_bytes < client.max_task_bytes:
            raise ValueError(f"task_bytes ({task_bytes}) must hold one answer's {client.max_task_bytes} bytes")
        self._client = client
        self._budget = _Budget(task_bytes)
        """The bytes of GetTask answers held by the tasks under way, and of reports being retried (`TASK_BYTES_BUDGET`)."""
        self._poll_retry = poll_retry
        # The pause between polls; tests inject one that records the delay instead of sleeping.
        self._wait = wait or _wait
        self.poll_interval = 0.0
        """The last `next_poll` ConductorOne asked for, clamped (readiness derives its window from it)."""
        self._processor = processor
        self._slots = asyncio.Semaphore(concurrency)
        self._retrying_reports = 0
        """Tasks whose report is being retried and which gave their slot back (`_start`)."""
        self._running: set[asyncio.Task[None]] = set()
        self._periodic = periodic
        self._periodic_run: asyncio.Task[None] | None = None
        """The periodic sync loop; stopped by `run`, awaited by `drain` (its partial sync is saved meanwhile)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; tasks already started keep running (see `drain`)."""
        periodic = asyncio.create_task(self._periodic_loop(stop)) if self._periodic else None
        self._periodic_run = periodic
        backoff = Backoff(self._poll_retry, bounded=False)
        delay = 0.0
        too_large_told = False  # an answer over the receive limit was logged at error since the last good poll
        try:
            while not stop.is_set():
                if delay > 0 and await self._wait(stop, delay):
                    break
                try:
                    await until_stopped(self._slots.acquire(), stop)
                except Stopped:
                    break
                reserve = self._client.max_task_bytes
                try:
                    await until_stopped(self._budget.take(reserve, self._budget_full), stop)
                except Stopped:
                    self._slots.release()
                    break
                answered: list[int] = []
                try:
                    # A poll that hangs (dead connection, slow server) must not delay a shutdown.
                    response = await until_stopped(self._client.get_task(on_answer=answered.append), stop)
                except Stopped:
                    self._slots.release()
                    self._budget.give(reserve)
                    break
                except C1UnreadableTaskError as exc:
                    # A task was handed out, known only by its id: reported failed under its slot like any task. It
                    # holds nothing of its answer.
                    self._budget.give(reserve)
                    backoff.reset()
                    too_large_told = False
                    self.poll_interval = delay = (
                        clamped_seconds(exc.next_poll, low=0.0, high=MAX_NEXT_POLL) if exc.next_poll else 0.0
                    )
                    delay = self._start(baton_pb2.Task(id=exc.task_id), delay, exc)
                    continue
                except C1Error as exc:
                    self._slots.release()
                    self._budget.give(reserve)
                    delay = backoff.next_delay(exc.retry_after) or 0.0
                    if isinstance(exc, C1ResponseTooLargeError) and not too_large_told:
                        # Nothing here can make it fit, and ConductorOne keeps offering it: said once at error,
                        # then polled with backoff (warnings) until a poll succeeds, as any failed poll (§3.2).
                        too_large_told = True
                        log.error(
                            "ConductorOne's answer is over the gRPC message limit; polling goes on with backoff",
                            error=str(exc),
                            limit_bytes=exc.limit,
                            retry_in_seconds=round(delay, 3),
                        )
                        continue
                    level = log.error if isinstance(exc, C1FatalError) else log.warning
                    level("polling ConductorOne failed", error=str(exc), retry_in_seconds=round(delay, 3))
                    continue
                backoff.reset()
                too_large_told = False
                held = min(answered[-1], reserve) if answered else reserve
                self._budget.give(reserve - held)
                self.poll_interval = delay = (
                    clamped_seconds(response.next_poll, low=0.0, high=MAX_NEXT_POLL)
                    if response.HasField("next_poll")
                    else 0.0
                )
                task = response.task if response.HasField("task") else None
                kind = task.WhichOneof("task_type") if task is not None else None
                # An empty Task (no id, no payload) is idle too; any other task goes to the processor, which
                # validates it (a payload-less task with an id is reported as malformed).
                if task is None or kind == "none" or (kind is None and not task.id):
                    self._slots.release()
                    self._budget.give(held)
                    # An idle answer with next_poll 0 (or unset, or negative) must not make us spin on it.
                    delay = max(delay, MIN_IDLE_POLL)
                    continue
                delay = self._start(task, delay, held=held)
                # The processor holds the task now, and lets it go once only its report is left: held here too, the
                # last answer outlived its weight in the budget until the next poll's (`_start`).
                del response, task
        finally:
            if periodic is not None:
                # Not awaited here: a stopped periodic sync saves its partial sync to the file (seconds for a large
                # org), and the tasks' grace must run meanwhile, not after it (`drain` waits for both); the pod's
                # termination grace is sized for the tasks' grace and their reports.
                periodic.cancel()

    def _budget_full(self) -> None:
        log.info(
            "polling waits for the tasks under way to end: they hold the memory budget of task bytes",
            held_bytes=self._budget.held,
            budget_bytes=self._budget.total,
            tasks=self.in_flight,
        )

    def _start(
        self,
        task: baton_pb2.Task,
        delay: float,
        unreadable: C1UnreadableTaskError | None = None,
        *,
        held: int = 0,
    ) -> float:
        """Hand the task to the processor; returns the pause before the next poll. A task that will not run (an invalid
        id, a copy of a running task) paces the polls as an idle answer does: offered again and again with next_poll 0
        (a ConductorOne re-offering a grant still waiting on Datadog), it made a poll loop without pause, and an error
        or warning line per answer. `held`: the bytes of the budget its answer holds, until it ends or only its report
        is left (`report_retrying`: the report's bytes are held then instead)."""
        kind = unreadable.task_type if unreadable is not None else task.WhichOneof("task_type")
        if not self._processor.takes(task.id, kind):
            delay = max(delay, MIN_IDLE_POLL)
        handed_back = False  # the slot, given back while the report is retried (`report_retrying`)

        def report_retrying(report_bytes: int) -> None:
            # The task's work is done and only its report is being retried (a FinishTask refused again and again while
            # GetTask answers: an UNAUTHENTICATED or PERMISSION_DENIED for it, ConductorOne's FinishTask down). The
            # processor keeps only a digest of the task (for a copy ConductorOne re-offers), so its answer's weight is
            # given back and the report's own is held instead: held for the task's answer, ~209 MiB of such reports
            # (16 answers of 13 MiB) left no room for the next poll's reserve, and polling stopped with slots free.
            # Its slot serves the next task: held, a few such reports held every slot until the process stopped, and
            # no task ran meanwhile, a just-in-time revoke included. At most RETRYING_REPORTS_MAX of them; past that a
            # retrying report keeps its slot, as before.
            nonlocal handed_back, held
            self._budget.reweigh(held, report_bytes)
            held = report_bytes
            if not handed_back and self._retrying_reports < RETRYING_REPORTS_MAX:
                handed_back = True
                self._retrying_reports += 1
                self._slots.release()

        def ended(_: asyncio.Task[None]) -> None:
            # A done callback, not a `finally` in a wrapping coroutine: a task cancelled before its first step (the
            # whole service cancelled) runs no code of its own, and its slot and bytes were never given back.
            self._budget.give(held)
            if handed_back:
                self._retrying_reports -= 1
            else:
                self._slots.release()

        # The processor's coroutine is the task itself: wrapped in one naming `task`, the task was held by its closure
        # until it ended, not only until its report was left.
        running = asyncio.create_task(self._processor.process(task, unreadable, report_retrying=report_retrying))
        running.add_done_callback(ended)
        self._running.add(running)
        running.add_done_callback(self._settled)
        return delay

    def _settled(self, running: asyncio.Task[None]) -> None:
        """Retrieve every task's end, so none is left as "Task exception was never retrieved"."""
        self._running.discard(running)
        if running.cancelled():
            return
        error = running.exception()
        if error is not None:  # the processor never raises; if it ever does, it is a bug worth a traceback
            log.error("task runner failed", error_type=type(error).__name__, exc_info=error)

    @property
    def in_flight(self) -> int:
        """Tasks handed to the processor that have not ended. Not `len(self._running)`: a task that ended in the loop
        turn a wait (the drain's) timed out in is no longer pending there, but its `_settled` callback has not run yet;
        the drain returned with it counted, though nothing ran."""
        return sum(1 for running in self._running if not running.done())

    async def drain(self, grace: float, report_within: float = 4.0) -> None:
        """Let running tasks finish for `grace` seconds; abandon the rest and report them as retryable. A stopped
        periodic sync saving its partial sync is waited for in the same time, and cut short with the tasks."""
        periodic = self._periodic_run
        self._periodic_run = None
        # The tasks that have not ended, as `in_flight` counts them: one that ended in this loop turn (its `_settled`
        # not run yet) was counted in the "draining" line, though nothing ran.
        work: set[asyncio.Task[None]] = {running for running in self._running if not running.done()}
        if work:
            log.info("draining", tasks=len(work), grace_seconds=grace, **LIFECYCLE)
        if periodic is not None:
            periodic.add_done_callback(_periodic_ended)
            work.add(periodic)
        if not work:
            return
        _, pending = await asyncio.wait(work, timeout=grace)
        if pending:
            if tasks := pending - {periodic}:
                log.warning("abandoning tasks still running after the grace period", tasks=len(tasks), **LIFECYCLE)
                self._processor.abandon_all("the connector is shutting down", finish_within=report_within)
            _, pending = await asyncio.wait(pending, timeout=report_within + 1.0 - CANCELLED_WITHIN)
        for straggler in pending:
            # Each logs its unreported task on the way out (TaskProcessor._report).
            straggler.cancel()
        if pending:
            _, pending = await asyncio.wait(pending, timeout=CANCELLED_WITHIN)
        for straggler in pending:
            # Its once-more try is cut too; what it leaves live is logged on the way out. Twice cancelled, a task
            # ends: the wait below is for that, within the same second.
            straggler.cancel()
        if pending:
            await asyncio.wait(pending)

    async def _periodic_loop(self, stop: asyncio.Event) -> None:
        assert self._periodic is not None
        interval, job = self._periodic
        while not stop.is_set():
            started = time.monotonic()
            try:
                await job()
            except Exception as exc:
                _periodic_failed(exc)
            if await _wait(stop, max(0.0, interval - (time.monotonic() - started))):
                return


class _Budget:
    """Bytes the tasks under way hold, out of `total`. One taker (the poll loop), so no queue of waiters."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.held = 0
        self._freed = asyncio.Event()

    def fits(self, size: int) -> bool:
        return self.held + size <= self.total

    async def take(self, size: int, waiting: Callable[[], None]) -> None:
        """Take `size` once it fits; `waiting` is called if it must wait first. Called here, not by a check before
        this runs: a report being retried may weigh more than its task's answer did (`reweigh`) in between, and
        polling waited without a word."""
        told = False
        while not self.fits(size):
            if not told:
                told = True
                waiting()
            self._freed.clear()
            await self._freed.wait()
        self.held += size

    def give(self, size: int) -> None:
        self.held -= size
        self._freed.set()

    def reweigh(self, size: int, now: int) -> None:
        """What held `size` holds `now` instead: taken without waiting (those bytes are in memory already), and past
        `total` when they must be; the next poll waits until the rest fits."""
        self.give(size - now)


def _periodic_ended(periodic: asyncio.Task[None]) -> None:
    """Retrieve the stopped periodic loop's end: a failure while saving is logged, not left unretrieved."""
    if not periodic.cancelled() and (error := periodic.exception()) is not None:
        _periodic_failed(error)


def _periodic_failed(error: BaseException) -> None:
    """A periodic sync's failure at error. One of our own errors (Datadog down or answering what does not hold, the
    file unwritable) names its cause and is no bug: no traceback, which no peer input may produce. Anything else is
    a bug, logged with its traceback."""
    expected = isinstance(error, ConnectorError | C1Error | TimeoutError | OSError)
    trace = {} if expected else {"exc_info": error}
    log.error("periodic sync failed", error=str(error), error_type=type(error).__name__, **trace)


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to `seconds`; True when `stop` was set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()
