"""FullSyncHandler in process: heartbeat pacing from untrusted Durations, and cancellation by ConductorOne."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest
from google.protobuf import duration_pb2

from connector.baton.c1.client import BatonServiceClient
from connector.baton.errors import Code, ConnectorError
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks.full_sync import (
    DEFAULT_HEARTBEAT,
    MAX_HEARTBEAT,
    MIN_HEARTBEAT,
    FullSyncHandler,
    FullSyncSettings,
    _interval,
)
from connector.baton.tasks.outcome import TaskError
from tests.baton.tasks.stubs import StubClient
from tests.fakes.tasks import kind_task

Beat = baton_pb2.BatonServiceHeartbeatResponse


@pytest.mark.parametrize(
    ("seconds", "nanos", "expected"),
    [
        (None, None, DEFAULT_HEARTBEAT),
        (0, 0, DEFAULT_HEARTBEAT),
        (-30, 0, DEFAULT_HEARTBEAT),
        (-(2**63), -999_999_999, DEFAULT_HEARTBEAT),
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
