"""FullSyncHandler in process: heartbeat pacing from untrusted Durations, and cancellation by ConductorOne."""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

import grpc
import pytest
import structlog
from google.protobuf import duration_pb2

from connector.baton.c1.client import BatonServiceClient
from connector.baton.c1.durations import DEFAULT_HEARTBEAT, MAX_HEARTBEAT, MIN_HEARTBEAT
from connector.baton.c1.errors import C1AuthUnavailableError, C1Error, C1FatalError, C1TransientError
from connector.baton.connector import Connector
from connector.baton.errors import Code, ConnectorError
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks.full_sync import FIRST_HEARTBEAT_RETRY, FullSyncHandler, FullSyncSettings, _interval
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.outcome import TaskError
from connector.baton.tasks.processor import TaskProcessor
from tests.baton.tasks.stubs import INSTANT, StubClient, StubConnector
from tests.fakes.tasks import kind_task

Beat = baton_pb2.BatonServiceHeartbeatResponse
S = grpc.StatusCode


@pytest.mark.parametrize(
    ("seconds", "nanos", "expected"),
    [
        (None, None, DEFAULT_HEARTBEAT),
        (0, 0, DEFAULT_HEARTBEAT),
        # Negative: clamped to 1 s as Go's SDK does (docs/spec/service-mode.md §3.6: "0 or unset means 30 s;
        # otherwise the value is clamped to [1 s, 5 min]").
        (-30, 0, MIN_HEARTBEAT),
        (-(2**63), -999_999_999, MIN_HEARTBEAT),
        (1, -1_000_000_000, DEFAULT_HEARTBEAT),  # zero in all, as Go adds them
        (0, 1, MIN_HEARTBEAT),
        (10, 0, 10.0),
        (10**11, 0, MAX_HEARTBEAT),  # Duration.ToTimedelta() raises OverflowError here
        (2**63 - 1, 999_999_999, MAX_HEARTBEAT),
    ],
)
def test_next_heartbeat_is_clamped(seconds: int | None, nanos: int | None, expected: float) -> None:
    beat = Beat() if seconds is None else Beat(next_heartbeat=duration_pb2.Duration(seconds=seconds, nanos=nanos))
    assert _interval(beat) == expected


async def test_a_sync_cancelled_before_it_starts_is_a_final_failure_and_leaves_no_file(tmp_path: Path) -> None:
    client = StubClient()
    client.heartbeat_script.append(Beat(cancelled=True))
    handler = FullSyncHandler(cast(BatonServiceClient, client), list, FullSyncSettings(temp_dir=tmp_path))
    with pytest.raises(TaskError) as caught:
        await handler.run(kind_task("sync_full").id, baton_pb2.Task.SyncFullTask())
    assert caught.value.code == Code.CANCELLED
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 - a test's temp dir


async def test_an_absurd_first_heartbeat_interval_does_not_break_the_sync(tmp_path: Path) -> None:
    client = StubClient()
    client.heartbeat_script.append(Beat(next_heartbeat=duration_pb2.Duration(seconds=10**12)))
    uploads: list[str] = []

    async def upload_asset(task_id: str, path: Path) -> int:
        uploads.append(task_id)
        return path.stat().st_size  # noqa: ASYNC240 - a test's temp file

    client.upload_asset = upload_asset  # type: ignore[attr-defined]
    handler = FullSyncHandler(cast(BatonServiceClient, client), list, FullSyncSettings(temp_dir=tmp_path))
    task_id = kind_task("sync_full").id
    outcome = await handler.run(task_id, baton_pb2.Task.SyncFullTask())
    assert outcome.ok
    assert uploads == [task_id]
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 - a test's temp dir


@pytest.mark.parametrize("kind", ["missing", "a file"])
async def test_an_unusable_temp_dir_is_a_clear_retryable_error_naming_it(tmp_path: Path, kind: str) -> None:
    """BATON_C1Z_TEMP_DIR that is gone or not a directory: an operator condition, so one clear line naming
    the directory and the cause (not `internal error (FileNotFoundError)` and a traceback); retryable, since
    the operator can fix it and ConductorOne reschedules the sync."""
    temp_dir = tmp_path / "c1z-temp"
    if kind == "a file":
        temp_dir.write_text("not a directory")
    client = StubClient()
    handler = FullSyncHandler(cast(BatonServiceClient, client), list, FullSyncSettings(temp_dir=temp_dir))
    with pytest.raises(ConnectorError) as caught:
        await handler.run(kind_task("sync_full").id, baton_pb2.Task.SyncFullTask())
    message = str(caught.value)
    assert str(temp_dir) in message
    assert ("No such file or directory" if kind == "missing" else "Not a directory") in message
    assert caught.value.retryable


async def test_a_c1z_that_cannot_be_read_back_for_the_upload_is_a_clear_retryable_error(tmp_path: Path) -> None:
    """The temp volume fails between the save and the upload: one line naming the file and the cause, retryable
    (was "internal error (OSError)" to ConductorOne and a traceback in the log)."""
    client = StubClient()
    seen: list[Path] = []

    async def upload_asset(task_id: str, path: Path) -> int:
        seen.append(path)
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(path))

    client.upload_asset = upload_asset  # type: ignore[attr-defined]
    handler = FullSyncHandler(cast(BatonServiceClient, client), list, FullSyncSettings(temp_dir=tmp_path))
    with pytest.raises(ConnectorError) as caught:
        await handler.run(kind_task("sync_full").id, baton_pb2.Task.SyncFullTask())
    (path,) = seen
    assert str(caught.value) == f"cannot use the working file {path} while uploading it: Input/output error"
    assert caught.value.retryable
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 - a test's temp dir


def _failing_upload(error: BaseException) -> Callable[[str, Path], Awaitable[int]]:
    async def upload_asset(task_id: str, path: Path) -> int:
        raise error

    return upload_asset


@pytest.mark.parametrize(
    ("where", "error", "code"),
    [
        ("first heartbeat", C1TransientError("Heartbeat: UNAVAILABLE: restarting", code=S.UNAVAILABLE), Code.UNAVAILABLE),
        ("first heartbeat", C1FatalError("Heartbeat: NOT_FOUND: no such task", code=S.NOT_FOUND), Code.NOT_FOUND),
        ("first heartbeat", C1AuthUnavailableError("failed to get a token from c1.example:443: timed out"), Code.UNAVAILABLE),
        ("upload", C1TransientError("UploadAsset: DATA_LOSS: cut short", code=S.DATA_LOSS), Code.DATA_LOSS),
        ("upload", C1FatalError("UploadAsset: INVALID_ARGUMENT: bad checksum", code=S.INVALID_ARGUMENT), Code.INVALID_ARGUMENT),
    ],
)  # fmt: skip
async def test_a_conductorone_failure_inside_a_sync_is_reported_as_such(
    tmp_path: Path, where: str, error: C1Error, code: Code
) -> None:
    """A failed Heartbeat or UploadAsset is ConductorOne's answer, not a bug of ours: the report carries its
    text and code, stays retryable (a sync is safe to run again), and no "unexpected error" traceback is logged
    (it was `internal error (C1TransientError)` with a traceback)."""
    client = StubClient()
    if where == "first heartbeat":
        # A transient failure is retried (`FIRST_HEARTBEAT_RETRY`): every attempt fails here.
        client.heartbeat_script.extend([error] * FIRST_HEARTBEAT_RETRY.max_attempts)
    else:
        client.upload_asset = _failing_upload(error)  # type: ignore[attr-defined]
    processor = _processor(client, tmp_path)
    with structlog.testing.capture_logs() as events:
        await processor.process(kind_task("sync_full"))
    (finish,) = client.finishes
    assert not finish.ok
    assert str(error) in finish.message
    assert (finish.code, finish.non_retryable) == (code, False)
    assert not [e for e in events if e["log_level"] == "error"]
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 - a test's temp dir


async def _no_hello(task_id: str, awaiting: object) -> None:
    return None


async def _no_pause(seconds: float) -> None:
    await asyncio.sleep(0)


async def _taken_upload(task_id: str, path: Path) -> int:
    return 1  # ConductorOne took it (its size is not what these tests read)


@pytest.mark.parametrize(
    "error",
    [
        C1TransientError("Heartbeat: UNAVAILABLE: restarting", code=S.UNAVAILABLE),
        C1AuthUnavailableError("failed to get a token from c1.example:443: 503"),
    ],
)
async def test_a_first_heartbeat_failed_by_a_blip_is_retried_and_the_sync_runs(tmp_path: Path, error: C1Error) -> None:
    """A transient failure of the first Heartbeat (a ConductorOne deploy, the token endpoint's 503) no longer costs the
    sync its turn: the Heartbeat is sent again after a pause, and the sync runs and succeeds."""
    client = StubClient()
    client.heartbeat_script.extend([error, error])
    client.upload_asset = _taken_upload  # type: ignore[attr-defined]
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        await asyncio.sleep(0)

    handler = FullSyncHandler(cast(BatonServiceClient, client), list, FullSyncSettings(temp_dir=tmp_path), sleep=sleep)
    outcome = await handler.run(kind_task("sync_full").id, baton_pb2.Task.SyncFullTask())
    assert outcome is not None
    assert client.heartbeats >= 3  # two failed first Heartbeats, then the one that started the sync
    first_pauses = pauses[:2]
    assert all(0 <= p <= FIRST_HEARTBEAT_RETRY.max_delay for p in first_pauses), pauses


async def test_a_first_heartbeat_refused_is_not_retried(tmp_path: Path) -> None:
    """NOT_FOUND says the task is not ours to run: sending the Heartbeat again cannot change that."""
    client = StubClient()
    client.heartbeat_script.append(C1FatalError("Heartbeat: NOT_FOUND: no such task", code=S.NOT_FOUND))
    handler = FullSyncHandler(
        cast(BatonServiceClient, client), list, FullSyncSettings(temp_dir=tmp_path), sleep=_no_pause
    )
    with pytest.raises(C1FatalError):
        await handler.run(kind_task("sync_full").id, baton_pb2.Task.SyncFullTask())
    assert client.heartbeats == 1


async def test_a_first_heartbeat_waits_what_conductorone_asked_for(tmp_path: Path) -> None:
    """ConductorOne's RetryInfo on a failed first Heartbeat is waited (up to the policy's cap on hints) before the next."""
    client = StubClient()
    client.heartbeat_script.append(
        C1TransientError("Heartbeat: UNAVAILABLE: busy", code=S.UNAVAILABLE, retry_after=12.0)
    )
    client.upload_asset = _taken_upload  # type: ignore[attr-defined]
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)
        await asyncio.sleep(0)

    handler = FullSyncHandler(cast(BatonServiceClient, client), list, FullSyncSettings(temp_dir=tmp_path), sleep=sleep)
    await handler.run(kind_task("sync_full").id, baton_pb2.Task.SyncFullTask())
    assert pauses[0] == 12.0


def _processor(client: StubClient, tmp_path: Path) -> TaskProcessor:
    """A task processor running full syncs through `client`, its files in `tmp_path`."""
    handler = FullSyncHandler(
        cast(BatonServiceClient, client), list, FullSyncSettings(temp_dir=tmp_path), sleep=_no_pause
    )
    return TaskProcessor(
        client.as_client(),
        Handlers(cast(Connector, StubConnector()), provisioning=True),
        handler,
        hello=_no_hello,
        finish_retry=INSTANT,
    )


async def test_heartbeats_go_on_during_the_upload_and_a_cancel_then_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in Go, the heartbeat loop lasts as long as the task, upload included (§3.7 steps 2-5): a long upload
    must not look like a dead task to ConductorOne, and a cancel sent meanwhile must stop it. (The loop ended
    with the sync: no Heartbeat during the upload, and an upload ConductorOne cancelled ran on to its end.)"""
    monkeypatch.setattr("connector.baton.c1.durations.MIN_HEARTBEAT", 0.001)
    client = StubClient()
    uploading = asyncio.Event()
    beats_during_upload = 0
    upload_cancelled = False

    async def heartbeat(task_id: str) -> Beat:
        nonlocal beats_during_upload
        if not uploading.is_set():
            return Beat(next_heartbeat=duration_pb2.Duration(nanos=1_000_000))
        beats_during_upload += 1
        return Beat(cancelled=beats_during_upload >= 3, next_heartbeat=duration_pb2.Duration(nanos=1_000_000))

    async def upload_asset(task_id: str, path: Path) -> int:
        nonlocal upload_cancelled
        uploading.set()
        try:
            await asyncio.Event().wait()  # a slow link: only a cancel ends it
        except asyncio.CancelledError:
            upload_cancelled = True
            raise
        raise AssertionError("unreachable")

    client.heartbeat = heartbeat  # type: ignore[method-assign]
    client.upload_asset = upload_asset  # type: ignore[attr-defined]
    processor = _processor(client, tmp_path)
    # The bound only turns the old hang into a failure; the test never waits for it when the code is right.
    await asyncio.wait_for(processor.process(kind_task("sync_full")), timeout=20)
    assert beats_during_upload == 3
    assert upload_cancelled
    (finish,) = client.finishes
    assert (finish.ok, finish.code, finish.non_retryable) == (False, Code.CANCELLED, True)
    assert "cancelled by ConductorOne" in finish.message
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 - a test's temp dir


async def test_the_local_sync_resources_setting_makes_the_task_a_partial_sync(tmp_path: Path) -> None:
    """BATON_SYNC_RESOURCES in service mode: as in Go, whose handler applies the local targets after the task's,
    a sync_full task syncs only those resources. The task's own (empty) list replaced the setting, so every task
    ran a full sync whatever the operator had set."""
    from connector.baton import builders as b
    from connector.baton.c1z.reader import C1ZReader
    from connector.baton.sync.syncer import SyncOptions
    from tests.baton.fake_connector import Faults, Org, syncers

    client = StubClient()
    seen: list[tuple[str, set[str]]] = []

    async def upload_asset(task_id: str, path: Path) -> int:
        with C1ZReader(path) as reader:
            (run,) = reader.sync_runs()
            seen.append((run.sync_type, {r.id.resource for r in reader.resources(sync_id=run.sync_id)}))
        return 1

    client.upload_asset = upload_asset  # type: ignore[attr-defined]
    org = Org()
    local = SyncOptions(targeted_resources=[b.resource_id("group", "g1")])
    handler = FullSyncHandler(
        cast(BatonServiceClient, client),
        lambda: syncers(org, Faults()),
        FullSyncSettings(temp_dir=tmp_path, options=local),
    )
    outcome = await handler.run(kind_task("sync_full").id, baton_pb2.Task.SyncFullTask())
    assert outcome.ok
    assert seen == [("partial", {"g1"})]


@pytest.mark.parametrize(
    "local",
    [
        {"resource_type_ids": ["user"]},
        {"targeted_resources": [("group", "g1")]},
        {"resource_type_ids": ["group"], "targeted_resources": [("group", "g1")], "skip_grants": True},
    ],
    ids=["sync-resource-types", "sync-resources", "both"],
)
async def test_skip_full_sync_answers_an_empty_finished_full_sync_whatever_else_the_sync_settings_say(
    tmp_path: Path, local: dict[str, object]
) -> None:
    """BATON_SKIP_FULL_SYNC answers every sync_full task with an empty, finished full sync (Go's SkipSync). With
    BATON_SYNC_RESOURCE_TYPES or BATON_SYNC_RESOURCES set too, that empty sync ran them against no syncers and every
    task failed ("names unknown resource types", "no such resource type"), for good."""
    from connector.baton import builders as b
    from connector.baton.c1z.reader import C1ZReader
    from connector.baton.sync.syncer import SyncOptions
    from tests.baton.fake_connector import Faults, Org, syncers

    client = StubClient()
    seen: list[tuple[str, bool, int]] = []

    async def upload_asset(task_id: str, path: Path) -> int:
        with C1ZReader(path) as reader:
            (run,) = reader.sync_runs()
            seen.append((run.sync_type, run.finished, sum(1 for _ in reader.resources(sync_id=run.sync_id))))
        return 1

    client.upload_asset = upload_asset  # type: ignore[attr-defined]
    targets = [b.resource_id(*ref) for ref in cast(list[tuple[str, str]], local.pop("targeted_resources", []))]
    options = SyncOptions(targeted_resources=targets, **local)  # type: ignore[arg-type]
    handler = FullSyncHandler(
        cast(BatonServiceClient, client),
        lambda: syncers(Org(), Faults()),
        FullSyncSettings(temp_dir=tmp_path, skip_full_sync=True, options=options),
    )
    outcome = await handler.run(kind_task("sync_full").id, baton_pb2.Task.SyncFullTask())
    assert outcome.ok
    assert seen == [("full", True, 0)]


async def test_the_sync_series_record_only_a_sync_whose_report_conductorone_took(tmp_path: Path) -> None:
    """The last-successful-sync timestamp (BatonDatadogSyncStale), the counts and the duration say what ConductorOne
    has. A sync uploaded but whose report ConductorOne then refused as gone (the task expired or was reassigned
    meanwhile) is no sync there: it was recorded as one at the upload, so a pod whose every report was lost looked
    fresh. It is recorded once the report is accepted, and only then."""
    from connector.baton.runtime.metrics import Metrics
    from connector.baton.tasks.report import GONE_CONFIRMATIONS

    client = StubClient()

    async def upload_asset(task_id: str, path: Path) -> int:
        return 1000

    client.upload_asset = upload_asset  # type: ignore[attr-defined]
    gone = C1FatalError("FinishTask: NOT_FOUND: no such task", code=S.NOT_FOUND, method="FinishTask")
    client.finish_script.extend([gone] * GONE_CONFIRMATIONS)
    metrics = Metrics("test", "0")
    handler = FullSyncHandler(
        cast(BatonServiceClient, client), list, FullSyncSettings(temp_dir=tmp_path), on_synced=metrics.sync_succeeded
    )
    processor = TaskProcessor(
        client.as_client(),
        Handlers(cast(Connector, StubConnector()), provisioning=True),
        handler,
        hello=_no_hello,
        finish_retry=INSTANT,
    )

    def recorded() -> tuple[float, float, float]:
        text = metrics.render().decode()
        series = {
            line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines() if line.startswith("test_")
        }
        return (
            series["test_last_successful_sync_timestamp_seconds"],
            series["test_sync_duration_seconds_count"],
            series["test_upload_bytes_total"],
        )

    with structlog.testing.capture_logs() as events:
        await processor.process(kind_task("sync_full"))
    assert [e["reason"] for e in events if e["event"] == "task not reported to ConductorOne"] == [
        "ConductorOne no longer takes it"
    ]
    assert recorded() == (0.0, 0.0, 0.0)

    await processor.process(kind_task("sync_full"))
    (accepted,) = client.finishes
    assert accepted.ok
    last_sync, syncs, uploaded = recorded()
    assert last_sync > 0
    assert (syncs, uploaded) == (1.0, 1000.0)


async def test_a_sync_stopped_while_its_working_directory_is_being_made_leaves_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Shutdown at the sync's first step: the drain cancels the task while a worker thread makes its private working
    directory (mkdtemp, flock, rename; slow on a busy or network volume). The thread goes on and makes it, and
    nobody was left to remove it: the directory stayed, locked by the live process, until the process ended, and
    on disk until the next start's sweep. The task is reported as stopped, and the directory removed."""
    import threading

    from connector.baton.c1z.workfiles import WorkDir

    entered, go_on, made = threading.Event(), threading.Event(), threading.Event()
    real_create = WorkDir.create

    def slow_create(tmp_dir: Path | None, purpose: str) -> WorkDir:
        entered.set()
        go_on.wait(10)
        try:
            return real_create(tmp_dir, purpose)
        finally:
            made.set()

    monkeypatch.setattr(WorkDir, "create", staticmethod(slow_create))
    client = StubClient()
    processor = _processor(client, tmp_path)
    running = asyncio.create_task(processor.process(kind_task("sync_full")))
    await asyncio.to_thread(entered.wait, 10)
    processor.abandon_all("the connector is shutting down", finish_within=5.0)
    await asyncio.sleep(0)
    go_on.set()
    await asyncio.wait_for(running, timeout=10)
    assert made.is_set()  # the directory was made before the task ended: nothing of it is left to a later moment
    (finish,) = client.finishes
    assert (finish.ok, finish.code, finish.non_retryable) == (False, Code.UNAVAILABLE, False)
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 - a test's temp dir


async def test_after_a_failed_heartbeat_the_next_waits_a_whole_interval_even_after_a_slow_one(
    tmp_path: Path,
) -> None:
    """§3.6: on a failed Heartbeat the loop waits one more interval, and only 9 failures in a row (about 9 intervals
    of ConductorOne not answering) cancel the sync. The interval runs from one Heartbeat's start to the next's, so a
    slow answer shortens the pause after it; that shortened pause was kept for every failure after it. A successful
    Heartbeat that took as long as the interval (a ConductorOne under load, the 1 s interval it may ask for) left a
    pause of 0: the failures after it (a restart refusing connections for a moment) came back to back, and nine of
    them cancelled an hour-long sync within milliseconds, in a loop that did nothing but call ConductorOne."""
    client = StubClient()
    now = 0.0
    pauses: list[float] = []
    failed = 0
    slow_answered = False
    uploading = asyncio.Event()

    async def sleep(seconds: float) -> None:
        nonlocal now
        if slow_answered:
            pauses.append(seconds)
        now += seconds
        await asyncio.sleep(0)

    async def heartbeat(task_id: str) -> Beat:
        nonlocal now, failed, slow_answered
        if not uploading.is_set():
            return Beat(next_heartbeat=duration_pb2.Duration(seconds=1))
        if not slow_answered:
            slow_answered = True
            now += 1.5  # a slow answer, longer than the interval it asks for
            return Beat(next_heartbeat=duration_pb2.Duration(seconds=1))
        failed += 1
        raise C1TransientError("Heartbeat: ConductorOne at c1.example:443 unreachable: connection refused")

    async def upload_asset(task_id: str, path: Path) -> int:
        uploading.set()
        await asyncio.Event().wait()  # only the heartbeats' cancel ends it
        raise AssertionError("unreachable")

    client.heartbeat = heartbeat  # type: ignore[method-assign]
    client.upload_asset = upload_asset  # type: ignore[attr-defined]
    handler = FullSyncHandler(
        cast(BatonServiceClient, client), list, FullSyncSettings(temp_dir=tmp_path), clock=lambda: now, sleep=sleep
    )
    with pytest.raises(TaskError) as caught:
        await asyncio.wait_for(handler.run(kind_task("sync_full").id, baton_pb2.Task.SyncFullTask()), timeout=20)
    assert caught.value.code == Code.UNAVAILABLE
    assert "9 in a row" in str(caught.value)
    assert failed == 9
    # Before the first failure: what the slow answer left of its interval (nothing). After each failure: a whole one.
    assert pauses == [0.0] + [1.0] * 8
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 - a test's temp dir


async def test_the_first_heartbeats_own_time_counts_in_the_interval_before_the_second(tmp_path: Path) -> None:
    """The interval runs from one Heartbeat's start to the next's (docs/service-mode.md), the first one's too: a first
    Heartbeat that took 20 s of a 30 s interval (a token fetched on the way, a ConductorOne under load) left a whole
    30 s pause after it, so the second came 50 s after the first began, and each slow first answer stretched that
    gap, never the later ones."""
    client = StubClient()
    now = 0.0
    pauses: list[float] = []
    beats = 0

    async def sleep(seconds: float) -> None:
        nonlocal now
        pauses.append(seconds)
        now += seconds
        await asyncio.sleep(0)

    async def heartbeat(task_id: str) -> Beat:
        nonlocal now, beats
        beats += 1
        if beats == 1:
            now += 20.0  # the first Heartbeat's slow answer
            return Beat(next_heartbeat=duration_pb2.Duration(seconds=30))
        return Beat(cancelled=True)  # ends the test's sync at the second

    async def upload_asset(task_id: str, path: Path) -> int:
        await asyncio.Event().wait()  # only the heartbeats' cancel ends it
        raise AssertionError("unreachable")

    client.heartbeat = heartbeat  # type: ignore[method-assign]
    client.upload_asset = upload_asset  # type: ignore[attr-defined]
    handler = FullSyncHandler(
        cast(BatonServiceClient, client), list, FullSyncSettings(temp_dir=tmp_path), clock=lambda: now, sleep=sleep
    )
    with pytest.raises(TaskError) as caught:
        await asyncio.wait_for(handler.run(kind_task("sync_full").id, baton_pb2.Task.SyncFullTask()), timeout=20)
    assert caught.value.code == Code.CANCELLED
    assert pauses == [10.0]
