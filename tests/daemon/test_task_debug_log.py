"""Task.debug (docs/spec/service-mode.md §3.8, §3.7 step 6): a full sync ConductorOne asks to debug uploads, after
its c1z and under the same task id, that task's own log lines at debug level as JSON; the log stream keeps its level,
another task's lines stay out, secrets stay redacted, and a debug log that cannot be sent fails nothing."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import cast

import pytest
import structlog

from connector.baton.c1.client import BatonServiceClient
from connector.baton.c1.errors import C1TransientError
from connector.baton.connector import Connector, ResourceSyncer
from connector.baton.errors import Code
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks.debuglog import TASK_LOGS, TaskLogs
from connector.baton.tasks.full_sync import MAX_HEARTBEAT_FAILURES, FullSyncHandler, FullSyncSettings
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.outcome import TaskError
from connector.baton.tasks.processor import TaskProcessor
from connector.daemon import logging as logs
from connector.daemon.service import api_events
from connector.datadog.stats import RequestDone
from tests.baton import fake_connector
from tests.baton.tasks.stubs import StubClient, StubConnector
from tests.fakes.tasks import kind_task

CANARY = "canary-debug-secret-7f3a9c"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    logs.configure("info", "json", out)
    try:
        yield out
    finally:
        logs.configure("info", "json", io.StringIO())


class Uploads:
    """The stub client's UploadAsset: each file's bytes as ConductorOne would receive them, by task id."""

    def __init__(self, client: StubClient, *, refuse_after: int | None = None) -> None:
        self.assets: list[tuple[str, bytes]] = []
        self._refuse_after = refuse_after

        async def upload_asset(task_id: str, path: Path) -> int:
            if self._refuse_after is not None and len(self.assets) >= self._refuse_after:
                raise C1TransientError("UploadAsset: UNAVAILABLE: connection reset", code=None, method="UploadAsset")
            data = path.read_bytes()  # noqa: ASYNC240 - a test's temp file
            self.assets.append((task_id, data))
            return len(data)

        client.upload_asset = upload_asset  # type: ignore[attr-defined]


def logging_syncers() -> list[ResourceSyncer]:
    """A small org's syncers, made (as the service makes them, at the sync's start) with a debug and an info line, as
    the Datadog client's hook logs mid-sync."""
    structlog.get_logger("test").debug("listing users", page=1, secret=CANARY)
    structlog.get_logger("test").info("about to list")
    return list(fake_connector.syncers(fake_connector.Org(users=3), fake_connector.Faults()))


def handler(client: StubClient, tmp_path: Path, task_logs: TaskLogs = TASK_LOGS) -> FullSyncHandler:
    return FullSyncHandler(
        cast(BatonServiceClient, client),
        logging_syncers,
        FullSyncSettings(temp_dir=tmp_path),
        task_logs=task_logs,
    )


def lines(data: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in data.decode().splitlines()]


async def test_a_debugged_sync_uploads_its_own_debug_lines_after_the_c1z_under_the_same_task_id(
    tmp_path: Path, stream: io.StringIO
) -> None:
    logs.register_secret(CANARY)
    client = StubClient()
    uploads = Uploads(client)
    task_id = kind_task("sync_full").id
    with structlog.contextvars.bound_contextvars(task_id=task_id):
        outcome = await handler(client, tmp_path).run(task_id, baton_pb2.Task.SyncFullTask(), debug=True)
        # A line logged by another task meanwhile would have had its own id; after the run nothing is kept.
        structlog.get_logger("test").debug("after the task")
    assert outcome.ok
    (c1z_task, c1z), (log_task, debug_log) = uploads.assets
    assert (c1z_task, log_task) == (task_id, task_id)
    assert c1z.startswith(b"C1ZF\x00")
    kept = lines(debug_log)
    assert all(line["task_id"] == task_id for line in kept)
    debug = [line for line in kept if line["event"] == "listing users"]
    assert debug == [{**debug[0], "level": "debug", "page": 1, "secret": logs.REDACTED}]
    assert any(line["event"] == "about to list" for line in kept)
    assert CANARY.encode() not in debug_log
    # The stream keeps its level: the debug line reached the asset only.
    written = stream.getvalue()
    assert "about to list" in written
    assert "listing users" not in written
    assert "after the task" not in written
    assert not TASK_LOGS.active
    assert list(tmp_path.iterdir()) == []  # noqa: ASYNC240 - the working directory, debug.log included, is gone


async def test_a_sync_not_debugged_uploads_the_c1z_alone_and_keeps_nothing(tmp_path: Path, stream: io.StringIO) -> None:
    client = StubClient()
    uploads = Uploads(client)
    task_id = kind_task("sync_full").id
    with structlog.contextvars.bound_contextvars(task_id=task_id):
        outcome = await handler(client, tmp_path).run(task_id, baton_pb2.Task.SyncFullTask())
    assert outcome.ok
    assert [task for task, _ in uploads.assets] == [task_id]
    assert "listing users" not in stream.getvalue()


async def test_another_tasks_lines_stay_out_of_a_debugged_tasks_log(tmp_path: Path, stream: io.StringIO) -> None:
    client = StubClient()
    uploads = Uploads(client)
    task_id = kind_task("sync_full").id
    grant_id = kind_task("grant").id
    with TASK_LOGS.capturing(task_id) as kept:
        with structlog.contextvars.bound_contextvars(task_id=grant_id):
            structlog.get_logger("test").info("granting", principal="user:someone")
        with structlog.contextvars.bound_contextvars(task_id=task_id):
            structlog.get_logger("test").debug("syncing")
        kept.write(tmp_path / "debug.log")
    assert [line["event"] for line in lines((tmp_path / "debug.log").read_bytes())] == ["syncing"]
    assert uploads.assets == []


async def test_a_debug_log_that_cannot_be_uploaded_fails_nothing_and_says_so(
    tmp_path: Path, stream: io.StringIO
) -> None:
    client = StubClient()
    uploads = Uploads(client, refuse_after=1)
    task_id = kind_task("sync_full").id
    with structlog.contextvars.bound_contextvars(task_id=task_id):
        outcome = await handler(client, tmp_path).run(task_id, baton_pb2.Task.SyncFullTask(), debug=True)
    assert outcome.ok  # the c1z is in ConductorOne
    assert [task for task, _ in uploads.assets] == [task_id]
    warning = next(json.loads(line) for line in stream.getvalue().splitlines() if "debug log was not" in line)
    assert warning["level"] == "warning"
    assert "connection reset" in str(warning["error"])


def _debug_log_never_answered(
    client: StubClient, tmp_path: Path, heartbeats: list[BaseException | baton_pb2.BatonServiceHeartbeatResponse]
) -> tuple[FullSyncHandler, list[bytes]]:
    """A debugged sync whose c1z ConductorOne takes and whose debug log it never answers; the periodic heartbeats (their
    answers `heartbeats`, after the first) begin once the c1z is taken. The handler, and the assets taken."""
    c1z_taken = asyncio.Event()
    assets: list[bytes] = []

    async def upload_asset(task_id: str, path: Path) -> int:
        if assets:  # the debug log: ConductorOne never answers
            await asyncio.Event().wait()
        assets.append(path.read_bytes())  # noqa: ASYNC240 - a test's temp file
        c1z_taken.set()
        return len(assets[0])

    async def after_the_c1z(_: float) -> None:
        await c1z_taken.wait()

    client.upload_asset = upload_asset  # type: ignore[attr-defined]
    client.heartbeat_script.extend([baton_pb2.BatonServiceHeartbeatResponse(), *heartbeats])
    sync = FullSyncHandler(
        cast(BatonServiceClient, client),
        logging_syncers,
        FullSyncSettings(temp_dir=tmp_path),
        sleep=after_the_c1z,
        task_logs=TASK_LOGS,
    )
    return sync, assets


async def test_heartbeats_failing_while_only_the_debug_log_is_left_fail_nothing(
    tmp_path: Path, stream: io.StringIO
) -> None:
    """The c1z is in ConductorOne; heartbeats then fail for good while the debug log is in flight. That cancelled the
    task as "failed heartbeat" (retryable), and ConductorOne ran the whole sync again for its diagnostics."""
    client = StubClient()
    failing = C1TransientError("Heartbeat: UNAVAILABLE", code=None, method="Heartbeat")
    sync, assets = _debug_log_never_answered(client, tmp_path, [failing] * MAX_HEARTBEAT_FAILURES)
    task_id = kind_task("sync_full").id
    with structlog.contextvars.bound_contextvars(task_id=task_id):
        outcome = await sync.run(task_id, baton_pb2.Task.SyncFullTask(), debug=True)
    assert outcome.ok, outcome
    assert client.heartbeats == 1 + MAX_HEARTBEAT_FAILURES
    assert assets[0].startswith(b"C1ZF\x00")
    warning = next(json.loads(line) for line in stream.getvalue().splitlines() if "debug log was not" in line)
    assert "failed heartbeat" in str(warning["error"])


async def test_a_cancel_while_only_the_debug_log_is_left_stays_a_cancel(tmp_path: Path, stream: io.StringIO) -> None:
    """ConductorOne's cancel is its word (§3.6 step 3), whatever was left to send."""
    client = StubClient()
    sync, _ = _debug_log_never_answered(client, tmp_path, [baton_pb2.BatonServiceHeartbeatResponse(cancelled=True)])
    task_id = kind_task("sync_full").id
    with pytest.raises(TaskError) as caught, structlog.contextvars.bound_contextvars(task_id=task_id):
        await sync.run(task_id, baton_pb2.Task.SyncFullTask(), debug=True)
    assert caught.value.code == Code.CANCELLED


def test_a_debug_log_is_bounded_and_its_last_line_says_what_was_dropped(tmp_path: Path, stream: io.StringIO) -> None:
    task_logs = TaskLogs(limit=2_000)
    task_id = kind_task("sync_full").id
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, task_logs.processor, _drop])
    try:
        with task_logs.capturing(task_id) as kept, structlog.contextvars.bound_contextvars(task_id=task_id):
            for n in range(100):
                structlog.get_logger("test").debug("retrying", n=n, padding="x" * 50)
            size = kept.write(tmp_path / "debug.log")
    finally:
        logs.configure("info", "json", stream)
    written = lines((tmp_path / "debug.log").read_bytes())
    assert size < 2_000 + 200
    *retries, last = written
    assert [line["n"] for line in retries] == list(range(len(retries)))
    assert last["event"] == "debug log truncated: later lines were not kept"
    assert last["dropped_lines"] == 100 - len(retries)


def test_debugged_tasks_at_once_share_one_bound_and_a_finished_one_gives_its_bytes_back(
    tmp_path: Path, stream: io.StringIO
) -> None:
    """Bounded per task only, a debug log's worst case was the per-task bound times the task slots (1.6 GB with 100).
    All debugged tasks together keep at most the process's bound; what a task kept is free again once its capture ends."""
    task_logs = TaskLogs(limit=2_000, total=3_000)
    first, second, third = (kind_task("sync_full").id for _ in range(3))
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, task_logs.processor, _drop])

    def log_lines(task_id: str) -> None:
        with structlog.contextvars.bound_contextvars(task_id=task_id):
            for n in range(100):
                structlog.get_logger("test").debug("retrying", n=n, padding="x" * 50)

    try:
        with task_logs.capturing(first) as one, task_logs.capturing(second) as two:
            log_lines(first)
            log_lines(second)
            sizes = [one.write(tmp_path / "one.log"), two.write(tmp_path / "two.log")]
        with task_logs.capturing(third) as three:
            log_lines(third)
            sizes.append(three.write(tmp_path / "three.log"))
    finally:
        logs.configure("info", "json", stream)
    kept = [len(lines((tmp_path / f"{name}.log").read_bytes())) - 1 for name in ("one", "two", "three")]
    assert sizes[0] + sizes[1] < 3_000 + 2 * 200, "both together within the process's bound"
    assert kept[0] > kept[1] > 0, "the second task got what the first left"
    assert kept[2] == kept[0], "the finished tasks' bytes came back"
    last = lines((tmp_path / "two.log").read_bytes())[-1]
    assert (last["limit_bytes"], last["all_tasks_limit_bytes"]) == (2_000, 3_000)


def _drop(_: object, __: str, event: MutableMapping[str, object]) -> MutableMapping[str, object]:
    raise structlog.DropEvent


def test_a_line_json_cannot_encode_is_kept_by_its_event_not_lost_nor_raised(tmp_path: Path) -> None:
    task_logs = TaskLogs()
    task_id = kind_task("sync_full").id
    loop: list[object] = []
    loop.append(loop)
    with task_logs.capturing(task_id) as kept:
        event = task_logs.processor(None, "debug", {"event": "odd", "task_id": task_id, "value": loop})
        kept.write(tmp_path / "debug.log")
    assert event["event"] == "odd"
    (line,) = lines((tmp_path / "debug.log").read_bytes())
    assert (line["event"], line["unrenderable"]) == ("odd", True)


async def test_the_processor_passes_a_tasks_debug_flag_to_the_full_sync(tmp_path: Path, stream: io.StringIO) -> None:
    client = StubClient()
    uploads = Uploads(client)
    processor = TaskProcessor(
        cast(BatonServiceClient, client),
        Handlers(cast(Connector, StubConnector()), provisioning=True),
        handler(client, tmp_path),
        _no_hello,
    )
    task = kind_task("sync_full")
    task.debug = True
    await processor.process(task)
    assert [task_id for task_id, _ in uploads.assets] == [task.id, task.id]
    (finish,) = client.finishes
    assert finish.ok
    kept = lines(uploads.assets[1][1])
    assert {"listing users", "about to list"} <= {str(line["event"]) for line in kept}


async def _no_hello(task_id: str, awaiting: object) -> None:
    return None


def test_the_datadog_clients_events_are_debug_lines_only_while_a_task_is_debugged(
    tmp_path: Path, stream: io.StringIO
) -> None:
    counted: list[object] = []
    hook = api_events(counted.append)  # type: ignore[arg-type]
    task_id = kind_task("sync_full").id
    done = RequestDone("users", "GET", 200, 0.012, 1)
    with structlog.contextvars.bound_contextvars(task_id=task_id):
        hook(done)  # before the capture: not kept
        with TASK_LOGS.capturing(task_id) as kept:
            hook(done)
            kept.write(tmp_path / "debug.log")
    assert counted == [done, done]
    (line,) = lines((tmp_path / "debug.log").read_bytes())
    assert (line["event"], line["group"], line["status"], line["attempt"]) == ("datadog request", "users", 200, 1)
    assert "datadog request" not in stream.getvalue()


def test_a_librarys_record_reaches_the_debug_log_redacted_never_whole(tmp_path: Path, stream: io.StringIO) -> None:
    """A library's line (grpc's, httpx's) goes through the same chain with its whole `LogRecord` beside the event:
    written as it was, the record's repr held the library's own message, unredacted, a bearer token in it."""
    logs.register_secret(CANARY)
    task_id = kind_task("sync_full").id
    with TASK_LOGS.capturing(task_id) as kept, structlog.contextvars.bound_contextvars(task_id=task_id):
        logging.getLogger("grpc.aio").warning("bad metadata: authorization=Bearer %s", CANARY)
        kept.write(tmp_path / "debug.log")
    data = (tmp_path / "debug.log").read_bytes()
    (line,) = lines(data)
    assert line["event"] == f"bad metadata: authorization=Bearer {logs.REDACTED}"
    assert not [key for key in line if key.startswith("_")]
    assert CANARY.encode() not in data
    assert CANARY not in stream.getvalue()


async def test_the_stores_thread_lines_are_the_tasks_own(tmp_path: Path, stream: io.StringIO) -> None:
    """The store works on a thread of its own; its lines ("c1z saved") carried no task id, so a debugged sync's log
    lacked them, and the stream's were no task's."""
    client = StubClient()
    uploads = Uploads(client)
    task_id = kind_task("sync_full").id
    with structlog.contextvars.bound_contextvars(task_id=task_id):
        await handler(client, tmp_path).run(task_id, baton_pb2.Task.SyncFullTask(), debug=True)
    saved = [line for line in lines(uploads.assets[1][1]) if line["event"] == "c1z saved"]
    assert [line["task_id"] for line in saved] == [task_id]
    written = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert [line.get("task_id") for line in written if line["event"] == "c1z saved"] == [task_id]
