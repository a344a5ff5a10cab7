"""The sync_full task: heartbeats while a full sync runs into a private temp c1z and while it is uploaded (§3.6, §3.7),
then, for a task ConductorOne asked to debug, the task's own log lines as a second asset (§3.7 step 6, §3.8).

The heartbeat loop can cancel the sync or its upload (ConductorOne cancelled the task, or it stopped answering);
the processor then reports the task as failed, so it is never left claimed and unfinished.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import structlog

from connector.baton.c1.client import BatonServiceClient
from connector.baton.c1.durations import heartbeat_seconds
from connector.baton.c1.errors import C1Error, C1TransientError
from connector.baton.c1z.errors import working_file_failure
from connector.baton.c1z.workfiles import WorkDir
from connector.baton.connector import ResourceSyncer
from connector.baton.errors import Code
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.retry import Backoff, RetryPolicy
from connector.baton.sync.syncer import SyncOptions, SyncResult
from connector.baton.sync.to_file import sync_to_file
from connector.baton.tasks.debuglog import TASK_LOGS, DebugLog, TaskLogs
from connector.baton.tasks.outcome import Outcome, TaskError

log = structlog.get_logger(__name__)

# Go cancels after the counter reaches 10, i.e. 9 consecutive failed periodic heartbeats.
MAX_HEARTBEAT_FAILURES = 9

FIRST_HEARTBEAT_RETRY = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=5.0, max_hinted_delay=30.0)
"""The first Heartbeat's attempts on a transient failure (a ConductorOne deploy's UNAVAILABLE, a token endpoint's 503).
Go's SDK ends the task at the first failure, leaving it unfinished (docs/spec/service-mode.md §6.2); failed at once, a
blip of seconds cost a whole sync its turn, until ConductorOne handed it out again. A refusal (NOT_FOUND: the task is
not ours) is not retried, nor is a failure whose RetryInfo asks for more than 30 s: nothing has started, and a task
slot held idle that long is better handed back (the task fails retryably, ConductorOne hands it out again)."""


@dataclass(frozen=True, slots=True)
class FullSyncSettings:
    temp_dir: Path | None = None
    skip_full_sync: bool = False
    # Used when the task names no types (the task's own list wins, as in Go).
    default_resource_type_ids: Sequence[str] = ()
    options: SyncOptions = field(default_factory=SyncOptions)


class FullSyncHandler:
    def __init__(
        self,
        client: BatonServiceClient,
        syncers: Callable[[], Sequence[ResourceSyncer]],
        settings: FullSyncSettings,
        *,
        on_synced: Callable[[SyncResult, int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        first_heartbeat_retry: RetryPolicy = FIRST_HEARTBEAT_RETRY,
        stop: asyncio.Event | None = None,
        task_logs: TaskLogs = TASK_LOGS,
    ) -> None:
        self._client = client
        self._first_heartbeat_retry = first_heartbeat_retry
        # The service's stop (SIGTERM): a first Heartbeat's retry is not sent, nor waited for, once it is set.
        self._stop = stop
        self._task_logs = task_logs
        # The heartbeats' pacing; tests inject a clock and a sleep that records its pauses.
        self._clock = clock
        self._sleep = sleep
        self._syncers = syncers
        self._settings = settings
        self._on_synced = on_synced

    async def run(self, task_id: str, task: baton_pb2.Task.SyncFullTask, *, debug: bool = False) -> Outcome:
        """Sync, upload, and (`debug`: the task's `Task.debug`) upload the task's own log lines after the c1z."""
        with self._task_logs.capturing(task_id) if debug else contextlib.nullcontext() as debug_log:
            return await self._run(task_id, task, debug_log)

    async def _run(self, task_id: str, task: baton_pb2.Task.SyncFullTask, debug_log: DebugLog | None) -> Outcome:
        first_started, first = await self._first_heartbeat(task_id)
        if first.cancelled:
            raise TaskError(Code.CANCELLED, "ConductorOne cancelled the task before it started")
        # A locked private directory, so a start-up sweep removes it if this process is killed (workfiles).
        workdir = await _made_workdir(self._settings.temp_dir)
        path = workdir.path / "sync.c1z"  # absent: the store starts a fresh sync in it
        try:
            # The heartbeats cover the upload too (as in Go, where they last as long as the task's context): a
            # long upload without them looks like a dead task to ConductorOne, and its cancel would go unheard.
            taken: list[tuple[SyncResult, int]] = []  # the c1z, once ConductorOne has it
            work = asyncio.create_task(
                self._sync_and_upload(task_id, task, path, debug_log, taken), name=f"sync {task_id}"
            )
            beat = asyncio.create_task(
                self._heartbeats(task_id, first, first_started, work), name=f"heartbeat {task_id}"
            )
            try:
                result, size = await work
            except asyncio.CancelledError:
                reason = beat.result() if beat.done() and not beat.cancelled() else None
                if reason is None:
                    raise
                if reason[0] != Code.UNAVAILABLE or not taken:
                    raise TaskError(reason[0], reason[1], non_retryable=reason[0] == Code.CANCELLED) from None
                # Heartbeats failing while only the debug log was left to send: the c1z is in ConductorOne, and the
                # sync's failure made it run the whole sync again for its diagnostics. (A cancel is ConductorOne's
                # word, and stays a cancel, §3.6 step 3.)
                log.warning("the task's debug log was not uploaded; the sync was", task_id=task_id, error=reason[1])
                result, size = taken[0]
            finally:
                beat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beat
            log.info("sync uploaded", task_id=task_id, bytes=size, sync_id=result.sync_id)
            # Recorded once ConductorOne took the report, not at the upload: a sync whose report it refused as
            # gone (the task expired or was reassigned) is no sync there, and the sync series (the last successful
            # sync's time, which BatonDatadogSyncStale reads) say what ConductorOne has.
            on_synced = self._on_synced
            return Outcome(on_accepted=None if on_synced is None else (lambda: on_synced(result, size)))
        finally:
            await asyncio.shield(asyncio.to_thread(workdir.release))

    async def _sync_and_upload(
        self,
        task_id: str,
        task: baton_pb2.Task.SyncFullTask,
        path: Path,
        debug_log: DebugLog | None,
        taken: list[tuple[SyncResult, int]],
    ) -> tuple[SyncResult, int]:
        """Sync, upload the c1z (recorded in `taken` as soon as ConductorOne has it), then the debug log if any."""
        result = await self._sync(task, path)
        try:
            size = await self._client.upload_asset(task_id, path)
        except OSError as exc:
            # The saved c1z cannot be read back (an I/O error of the temp volume, the file taken away): the place's
            # fault, one line naming it, retryable; not "internal error (OSError)" and a traceback.
            raise working_file_failure(path, "uploading it", exc) from exc
        taken.append((result, size))
        if debug_log is not None:
            await self._upload_debug_log(task_id, debug_log, path.with_name("debug.log"))
        return result, size

    async def _upload_debug_log(self, task_id: str, debug_log: DebugLog, path: Path) -> None:
        """The lines kept so far, as a second asset of the same task (§3.7 step 6). One that cannot be written or
        sent fails nothing: the sync is in ConductorOne, and failing it would only make ConductorOne run the whole
        sync again for its diagnostics. The warning says so."""
        log.info("uploading the task's debug log", task_id=task_id)
        try:
            size = await asyncio.to_thread(debug_log.write, path)
            await self._client.upload_asset(task_id, path)
        except (C1Error, OSError) as exc:
            log.warning("the task's debug log was not uploaded; the sync was", task_id=task_id, error=str(exc))
            return
        log.info("debug log uploaded", task_id=task_id, bytes=size)

    async def _sync(self, task: baton_pb2.Task.SyncFullTask, path: Path) -> SyncResult:
        settings = self._settings
        if settings.skip_full_sync:
            # Go's SkipSync: an empty but finished full sync, still uploaded. Without the type filter and the targets:
            # run against no syncers, they failed every task ("names unknown resource types", "no such resource type").
            # Entitlements and grants skipped: SkipSync runs no phase, so no grant expansion marks it diff-capable
            # (c1z-format.md §2.7); uploaded with supports_diff = 1, it was a diff-capable sync of an empty org.
            empty = replace(
                settings.options, resource_type_ids=(), targeted_resources=(), skip_entitlements_and_grants=True
            )
            return await sync_to_file([], path, empty, tmp_dir=settings.temp_dir, save_on_error=False)
        options = replace(
            settings.options,
            skip_entitlements_and_grants=task.skip_entitlements_and_grants
            or settings.options.skip_entitlements_and_grants,
            skip_grants=task.skip_grants or settings.options.skip_grants,
            resource_type_ids=list(task.sync_resource_type_ids) or list(settings.default_resource_type_ids),
            # The local --sync-resources win when set, as in Go (its handler applies them after the task's).
            targeted_resources=list(settings.options.targeted_resources)
            or [
                resource_pb2.ResourceId(resource_type=r.id.resource_type, resource=r.id.resource)
                for r in task.targeted_sync_resources
            ],
        )
        return await sync_to_file(self._syncers(), path, options, tmp_dir=settings.temp_dir, save_on_error=False)

    async def _first_heartbeat(self, task_id: str) -> tuple[float, baton_pb2.BatonServiceHeartbeatResponse]:
        """The first Heartbeat's answer and when the attempt that got it began (the clock's time), a transient
        failure retried under `FIRST_HEARTBEAT_RETRY` (scaled as the service's other loops); the last failure is raised
        (the task fails retryably)."""
        backoff = Backoff(self._first_heartbeat_retry)
        while True:
            started = self._clock()
            try:
                return started, await self._client.heartbeat(task_id)
            except C1TransientError as exc:
                delay = backoff.next_delay(exc.retry_after)
                if delay is None or self._stopping():
                    raise
                log.warning(
                    "first heartbeat failed, retrying",
                    task_id=task_id,
                    attempt=backoff.failures,
                    retry_in=round(delay, 3),
                    error=str(exc),
                )
                if await self._paused_until_stop(delay):
                    # Stopping: the sync is not started, and the task is reported at once with ConductorOne's own
                    # words (retryable), not held idle to the end of the grace (review r1701).
                    raise

    def _stopping(self) -> bool:
        return self._stop is not None and self._stop.is_set()

    async def _paused_until_stop(self, delay: float) -> bool:
        """Pause `delay` seconds, or until the service stops: whether it stopped. Without a stop event (a handler run
        on its own, the tests') the injected sleep paces it."""
        if self._stop is None:
            await self._sleep(delay)
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=delay)
        return self._stop.is_set()

    async def _heartbeats(
        self,
        task_id: str,
        last: baton_pb2.BatonServiceHeartbeatResponse,
        last_started: float,
        work: asyncio.Task[tuple[SyncResult, int]],
    ) -> tuple[Code, str] | None:
        """Beat until the sync and its upload end; cancel them and say why when ConductorOne cancels or stops
        answering. `last` is the first Heartbeat's answer, begun at `last_started` (the clock's time)."""
        failures = 0
        interval = _interval(last)
        # The first Heartbeat's time (and the working directory's making after it) counts too: not counted, a slow
        # first answer stretched the gap to the second by as much.
        took = self._clock() - last_started
        while not work.done():
            # The interval runs from one Heartbeat's start to the next's, after a failure too: the pause a slow answer
            # shortened (to nothing, when it took the whole interval) must not be kept for the failures after it,
            # which then came back to back and cancelled the sync within milliseconds (§3.6: about 9 intervals).
            await self._sleep(max(0.0, interval - took))
            started = self._clock()
            try:
                response = await self._client.heartbeat(task_id)
            except C1Error as exc:
                took = self._clock() - started
                failures += 1
                log.warning("heartbeat failed", task_id=task_id, failures=failures, error=str(exc))
                if failures >= MAX_HEARTBEAT_FAILURES:
                    work.cancel()
                    return Code.UNAVAILABLE, f"task failed heartbeat ({failures} in a row); ConductorOne may retry it"
                continue
            took = self._clock() - started
            failures = 0
            if response.cancelled:
                work.cancel()
                return Code.CANCELLED, "task was cancelled by ConductorOne"
            interval = _interval(response)
        return None


async def _made_workdir(temp_dir: Path | None) -> WorkDir:
    """The sync's private working directory, made on a worker thread. Cancelled meanwhile (the drain stops the task
    at its first step), the thread goes on and makes it: it is removed before the cancellation goes on, or it stayed,
    locked by this live process, until the process ended (and on disk until the next start's sweep)."""
    creating = asyncio.ensure_future(asyncio.to_thread(WorkDir.create, temp_dir, "upload"))
    try:
        return await asyncio.shield(creating)
    except asyncio.CancelledError:
        # Bounded as the release in `run` is: the thread makes, locks and renames one directory.
        with contextlib.suppress(Exception):
            made = await creating
            await asyncio.to_thread(made.release)
        raise


def _interval(response: baton_pb2.BatonServiceHeartbeatResponse) -> float:
    """The next heartbeat's delay (`durations.heartbeat_seconds`)."""
    return heartbeat_seconds(response.next_heartbeat if response.HasField("next_heartbeat") else None)
