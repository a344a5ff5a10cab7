"""A failing disk under the c1z store: every fault is one clear error naming the file and the cause, and the
`--file` a run started from is never lost to it.

The faults are real ones: a file-size limit (RLIMIT_FSIZE, with SIGXFSZ ignored the kernel answers EFBIG) set in a
child process, so the working file's writes fail inside SQLite and zstd as they would on a failing volume.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
import zstandard

from connector.baton import builders as b
from connector.baton.c1z import store as store_module
from connector.baton.c1z.errors import C1ZWriteError, WorkDirError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.c1z.schema import DEFERRED_RESOURCE_INDEXES
from connector.baton.c1z.store import C1ZStore
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, syncers
from tests.baton.test_c1z_workfiles import names
from tests.baton.test_sync_engine import options, rows_of

ROOT = Path(__file__).resolve().parents[2]
USER = b.resource_type("user", "User", [b.Trait.TRAIT_USER])

# Syncs a large org into `out` under a file-size limit; prints what it raised.
_CHILD = textwrap.dedent(
    """
    import asyncio, json, resource, signal, sys
    from pathlib import Path
    from connector.baton.sync.to_file import sync_to_file
    from tests.baton.fake_connector import Faults, Org, syncers
    from tests.baton.test_sync_engine import options

    out, work, limit = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal that kills
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    org = Org(users=3000, groups=40, members_per_group=50)
    try:
        asyncio.run(sync_to_file(syncers(org, Faults()), out, options(), tmp_dir=work))
        print(json.dumps({"raised": None}))
    except Exception as exc:
        print(json.dumps({"raised": type(exc).__name__, "message": str(exc)}))
    """
)


def _decompressed_size(c1z: Path) -> int:
    return len(zstandard.ZstdDecompressor().decompressobj().decompress(c1z.read_bytes()[5:]))


@pytest.mark.parametrize(
    ("stage", "limit_of", "cause"),
    [
        # Below the previous file's database: its working copy cannot be written.
        ("decompressing", lambda db: db // 2, "File too large"),
        # Above it: the copy opens, the new sync's rows outgrow the limit (SQLite commits a group, grows a page).
        ("storing the sync", lambda db: db * 3, "disk I/O error (SQLITE_IOERR_WRITE)"),
    ],
)
def test_a_file_size_limit_is_named_and_the_previous_file_is_kept(
    tmp_path: Path, stage: str, limit_of: Callable[[int], int], cause: str
) -> None:
    out, work = tmp_path / "out" / "sync.c1z", tmp_path / "work"
    out.parent.mkdir()
    work.mkdir()
    small = Org(users=20)
    asyncio.run(sync_to_file(syncers(small, Faults()), out, options(), tmp_dir=work))
    rows = rows_of(out)
    with C1ZReader(out) as reader:
        (finished,) = reader.sync_runs()
    limit = limit_of(_decompressed_size(out))
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(out), str(work), str(limit)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    # The disk's fault, named with the working file and the cause: not "unexpected error: OSError" (decompressing),
    # not "damaged SQLite database" (which started a resumed sync over), not "cannot commit - no transaction is
    # active" (the failed group left open, every later commit failing over the cause).
    assert outcome["raised"] == "WorkDirError", outcome
    message = outcome["message"]
    assert message.startswith(f"cannot use the working file {work}/baton-c1z-sync-"), message
    assert f"while {stage}" in message
    assert message.endswith(cause)
    # The file the run started from is whole: unchanged, or saved again after the failure (the unfinished run
    # with it, if SQLite kept the group that started it) with its finished sync's every row.
    with C1ZReader(out) as reader:
        runs = reader.sync_runs()
    assert runs[0] == finished
    assert not any(run.finished for run in runs[1:])
    assert rows_of(out) == rows
    assert names(out.parent) == ["sync.c1z"]
    assert names(work) == [], "no working files are left"


async def test_a_failed_partial_save_does_not_hide_the_error_that_stopped_the_sync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The save after a failed sync fails too (the output's volume): the sync's own error is raised, the save's
    is logged, and the previous file is left as it was."""
    out = tmp_path / "sync.c1z"
    await sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path)
    before = out.read_bytes()

    def refused(db_path: Path, c1z_path: Path) -> int:
        raise C1ZWriteError(f"cannot write {c1z_path}: Read-only file system")

    monkeypatch.setattr(store_module, "compress_atomically", refused)
    with structlog.testing.capture_logs() as events, pytest.raises(InjectedFailure, match="injected failure"):
        await sync_to_file(syncers(Org(), Faults(fail_at_call=6)), out, options(concurrency=1), tmp_dir=tmp_path)
    (logged,) = [e for e in events if e["log_level"] == "error"]
    assert logged["event"] == "the unfinished sync could not be saved; the file is left as it was"
    assert logged["error"] == f"cannot write {out}: Read-only file system"
    assert out.read_bytes() == before
    assert names(tmp_path) == ["sync.c1z"], "no working files are left"


class _CommitFails:
    """The store's connection, whose next COMMIT fails as SQLite's does on an I/O error: rolled back, then raised."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql != "COMMIT":
            return self._conn.execute(sql, *args)
        self._conn.execute("ROLLBACK")
        error = sqlite3.OperationalError("disk I/O error")
        error.sqlite_errorcode = 778
        error.sqlite_errorname = "SQLITE_IOERR_WRITE"
        raise error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


async def test_a_group_whose_commit_fails_goes_with_its_token_and_the_partial_save_still_works(
    tmp_path: Path,
) -> None:
    """A group SQLite could not commit is gone, and so is its token: the store goes on from the last commit, so the
    unfinished sync is saved for the next run (the open group left behind failed every later commit, the save's
    too, with "cannot commit - no transaction is active", after storing the lost page's token outside any
    transaction)."""
    path = tmp_path / "s.c1z"
    store = await C1ZStore.create(tmp_path)
    try:
        await store.start_sync()
        await store.write("after-u1", resource_types=[USER], resources=[b.resource(USER, "u1", "one")])
        await store._call(store._db.commit)
        real = store._db.conn
        store._db.conn = _CommitFails(real)  # type: ignore[assignment]
        await store.write("after-u2", resources=[b.resource(USER, "u2", "two")])
        with pytest.raises(WorkDirError, match=r"while storing the sync: disk I/O error \(SQLITE_IOERR_WRITE\)$"):
            await store._call(store._db.commit)
        store._db.conn = real
        assert [run.sync_token for run in await store.sync_runs()] == ["after-u1"]
        await store.save(path, vacuum=False)
    finally:
        await store.close()
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert run.sync_token == "after-u1"
        assert [r.id.resource for r in reader.resources("user")] == ["u1"]


async def test_resource_indexes_built_by_a_read_stay_built_when_a_later_group_fails(tmp_path: Path) -> None:
    """A new file loads its resources without their indexes until the first read (`DEFERRED_RESOURCE_INDEXES`). The
    build and its merge of a resource stored twice are committed before the store counts them built: left in the open
    group, a group that then failed to commit took them with it, and the resource stored twice was listed twice and
    saved twice, in a partial c1z with no index on its resources."""
    path = tmp_path / "s.c1z"
    store = await C1ZStore.create(tmp_path)
    try:
        await store.start_sync()
        await store.write("p1", resource_types=[USER], resources=[b.resource(USER, "u1", "old")])
        await store.write("p2", resources=[b.resource(USER, "u1", "new"), b.resource(USER, "u2", "two")])
        listed, _ = await store.resources_after("user", 0, 10)
        assert [r.display_name for _, r in listed] == ["new", "two"]
        real = store._db.conn
        store._db.conn = _CommitFails(real)  # type: ignore[assignment]
        await store.write("p3", resources=[b.resource(USER, "u3", "three")])
        with pytest.raises(WorkDirError):
            await store._call(store._db.commit)
        store._db.conn = real
        listed, _ = await store.resources_after("user", 0, 10)
        assert [r.display_name for _, r in listed] == ["new", "two"]
        await store.save(path, vacuum=False)
    finally:
        await store.close()
    with C1ZReader(path) as reader:
        assert [r.display_name for r in reader.resources("user")] == ["new", "two"]
    (tmp_path / "check.db").write_bytes(zstandard.ZstdDecompressor().decompress(path.read_bytes()[5:]))
    conn = sqlite3.connect(tmp_path / "check.db")
    try:
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'v1_resources'")}
    finally:
        conn.close()
    assert set(DEFERRED_RESOURCE_INDEXES) <= indexes
