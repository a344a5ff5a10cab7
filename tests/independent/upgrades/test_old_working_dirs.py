"""An image upgrade over a temp dir that outlives it (a host directory, a volume, an emptyDir across a container
restart): the versions before 2026-12-05 (up to commit a288c554's parent; the first release, d420f2f8, among them)
made their working directories with `tempfile.mkdtemp(prefix="c1z-")` (a sync's store) and `prefix="c1z-read-"` (a
reader), each holding one `sync.db`, and locked nothing; in service mode a task synced into
`baton-sdk-sync-uploadXXXXXXXX.c1z` there. One such version killed mid-sync (kill -9, an OOM kill)
left its uncompressed database, as large as the org's, in the temp dir; every later version swept only its own
`baton-c1z-*` names, so it stayed there for good. Reproduced by running d420f2f8's CLI against the fake Datadog and
killing it: `BATON_C1Z_TEMP_DIR/c1z-t2e9bvzc/sync.db` (192 KB for 30 users) was still there after main's syncs.

The directories are made here in that shape (mkdtemp's name, SQLite's file) rather than kept as fixtures: the file's
content plays no part, only its name, its header and its age."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from connector.baton.c1z import envelope, workfiles
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, Org, syncers

AGO = 8 * 3600.0  # past `workfiles.LEGACY_GRACE_SECONDS`


def _old_workdir(base: Path, name: str, *, age: float = AGO, extra: dict[str, bytes] | None = None) -> Path:
    """An older version's working directory as its killed sync left it, dated `age` seconds ago."""
    path = base / name
    path.mkdir()
    with sqlite3.connect(path / "sync.db") as db:
        db.execute("CREATE TABLE v1_resources (id INTEGER PRIMARY KEY, data BLOB)")
    db.close()
    for other, data in (extra or {}).items():
        (path / other).write_bytes(data)
    when = time.time() - age
    for item in [*path.iterdir(), path]:
        os.utime(item, (when, when), follow_symlinks=False)
    return path


async def test_a_sync_removes_what_a_killed_older_version_left_in_the_temp_dir(tmp_path: Path) -> None:
    temp = tmp_path / "temp"
    temp.mkdir()
    store = _old_workdir(temp, "c1z-t2e9bvzc", extra={"sync.db-journal": b""})
    reader = _old_workdir(temp, "c1z-read-k_3n9x0a")
    # Dated hours ahead: left while the clock was ahead, since set back; a live writer's would be dated now.
    ahead = _old_workdir(temp, "c1z-0a1b2c3d", age=-AGO)
    await sync_to_file(syncers(Org(), Faults()), tmp_path / "sync.c1z", SyncOptions(), tmp_dir=temp)
    assert not store.exists(), "an older version's killed sync left its database in the temp dir for good"
    assert not reader.exists()
    assert not ahead.exists()
    assert sorted(os.listdir(temp)) == []


@pytest.mark.parametrize(
    ("name", "age", "extra"),
    [
        ("c1z-t2e9bvzc", 60.0, {}),  # written a minute ago: an older version's sync may be running beside this one
        ("c1z-t2e9bvzc", AGO, {"notes.txt": b"mine"}),  # holds what no older version wrote: someone else's
        ("c1z-t2e9bvz", AGO, {}),  # not mkdtemp's eight characters
        ("c1z-backup-2026", AGO, {}),
        ("my-c1z-t2e9bvzc", AGO, {}),
    ],
    ids=["fresh", "other-content", "short-name", "other-name", "prefixed"],
)
def test_what_is_not_a_dead_older_working_dir_stays(
    tmp_path: Path, name: str, age: float, extra: dict[str, bytes]
) -> None:
    kept = _old_workdir(tmp_path, name, age=age, extra=extra)
    assert workfiles.sweep_stale(tmp_path) == []
    assert (kept / "sync.db").exists()


def test_a_recent_database_in_an_old_directory_stays(tmp_path: Path) -> None:
    # The directory's own date moves only when a file is made or removed; a live sync writes its database all along.
    kept = _old_workdir(tmp_path, "c1z-t2e9bvzc")
    (kept / "sync.db").touch()
    assert workfiles.sweep_stale(tmp_path) == []
    assert kept.exists()


def test_a_database_not_sqlite_or_a_link_stays(tmp_path: Path) -> None:
    other = _old_workdir(tmp_path, "c1z-aaaaaaaa")
    (other / "sync.db").write_bytes(b"not a database")
    linked = tmp_path / "c1z-bbbbbbbb"
    linked.mkdir()
    (linked / "sync.db").symlink_to(other / "sync.db")
    when = time.time() - AGO
    for item in (other / "sync.db", other, linked):
        os.utime(item, (when, when), follow_symlinks=False)
    os.utime(linked / "sync.db", (when, when), follow_symlinks=False)
    assert workfiles.sweep_stale(tmp_path) == []
    assert other.exists()
    assert linked.exists()


def _old_file(base: Path, name: str, data: bytes, *, age: float = AGO) -> Path:
    path = base / name
    path.write_bytes(data)
    when = time.time() - age
    os.utime(path, (when, when))
    return path


def test_an_older_service_tasks_sync_file_goes_once_it_holds_a_c1z(tmp_path: Path) -> None:
    # d420f2f8's service mode: `mkstemp(prefix="baton-sdk-sync-upload", suffix=".c1z")` in the temp dir, made empty
    # when the task starts, written when its sync ends (through a `<name>.XXXXXXXX.tmp` save beside it), removed
    # after the upload; a kill -9 in between left a whole compressed sync there.
    c1z = envelope.MAGIC_V1 + b"\x28\xb5\x2f\xfd"
    gone = [
        _old_file(tmp_path, "baton-sdk-sync-uploadq3v_8x1k.c1z", c1z),
        _old_file(tmp_path, "baton-sdk-sync-uploadq3v_8x1k.c1z.m0_r7a2c.tmp", c1z),
    ]
    kept = [
        _old_file(tmp_path, "baton-sdk-sync-upload0a1b2c3d.c1z", b""),  # a live task's, its sync not yet ended
        _old_file(tmp_path, "baton-sdk-sync-upload4e5f6g7h.c1z", c1z, age=60.0),  # being uploaded, maybe
        _old_file(tmp_path, "baton-sdk-sync-upload8i9j0k1l.c1z", b"someone else's"),
        _old_file(tmp_path, "baton-sdk-sync-upload-mine.c1z", c1z),
    ]
    assert sorted(workfiles.sweep_stale(tmp_path)) == sorted(gone)
    assert all(path.exists() for path in kept)
