"""The store's own thread (issue 11 §6), crash leftovers swept at start-up (§8), and a full disk named as such."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import zstandard

from connector.baton import builders as b
from connector.baton.c1z import envelope, rows, workfiles
from connector.baton.c1z import store as store_module
from connector.baton.c1z.errors import C1ZBusyError, C1ZWriteError, DiskFullError, WorkDirError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.c1z.store import C1ZStore
from connector.baton.c1z.workfiles import WorkDir, sweep_stale, sweep_stale_partials
from connector.baton.errors import InternalError
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, syncers
from tests.baton.test_sync_engine import options

ROOT = Path(__file__).resolve().parents[2]
USER = b.resource_type("user", "User", [b.Trait.TRAIT_USER])


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_save_runs_on_the_store_thread_while_the_loop_serves_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await C1ZStore.create(tmp_path)
    loop = asyncio.get_running_loop()
    served = threading.Event()
    real = envelope.compress_atomically

    def gated(db_path: Path, c1z_path: Path) -> int:
        # The loop must run this callback while the save is in progress; a save on the loop would deadlock.
        loop.call_soon_threadsafe(served.set)
        if not served.wait(timeout=30):
            raise AssertionError("the event loop served nothing while the save ran")
        assert threading.current_thread() is not threading.main_thread()
        return real(db_path, c1z_path)

    monkeypatch.setattr(store_module, "compress_atomically", gated)
    try:
        await store.start_sync()
        users = [b.add_user_trait(b.resource(USER, f"u{i}", f"U{i}"), emails=[f"u{i}@x.test"]) for i in range(2000)]
        await store.write(None, resource_types=[USER], resources=users)
        with pytest.raises(sqlite3.ProgrammingError, match="thread"):
            store._db.conn.execute("SELECT 1")  # the connection belongs to the store thread alone
        size = await store.save(tmp_path / "s.c1z", vacuum=True)
    finally:
        await store.close()
    assert served.is_set()
    assert size == (tmp_path / "s.c1z").stat().st_size


_CHILD = textwrap.dedent(
    """
    import asyncio, fcntl, os, sys
    from pathlib import Path
    from connector.baton.c1z.store import C1ZStore
    from connector.baton.c1z.workfiles import WorkDir

    async def main() -> None:
        tmp = Path(sys.argv[1])
        store = await C1ZStore.create(tmp)
        await store.start_sync()
        upload = WorkDir.create(tmp, "upload")
        (upload.path / "sync.c1z").write_bytes(b"C1ZF\\0partial")
        partial = os.open(tmp / ".out.c1z.save-live_k9z.tmp", os.O_CREAT | os.O_WRONLY)
        fcntl.flock(partial, fcntl.LOCK_EX)
        os.write(partial, b"C1ZF\\0")  # a save writes the magic first, once its lock is held
        print("ready", flush=True)
        sys.stdin.read()

    asyncio.run(main())
    """
)


def test_leftovers_of_a_killed_process_are_removed_at_the_next_start(tmp_path: Path) -> None:
    work = tmp_path / "tmp"
    work.mkdir()
    out = work / "out.c1z"
    (work / ".out.c1z.save-dead_k9z.tmp").write_bytes(b"C1ZF\0half a c1z")  # an interrupted save of a dead process
    # The user's, not a save's (a save's are .<file>.save-XXXXXXXX.tmp): mkstemp's plain <file>.XXXXXXXX.tmp shape
    # is a dated copy's too.
    for mine in (
        "out.c1z.backup.tmp",
        "out.c1z.my-notes.tmp",
        "out.c1z.20261205.tmp",
        ".out.c1z.save-dead_k9z.tmp.keep",
    ):
        (work / mine).write_text("the user's")
    (work / "c1z-not-ours").mkdir()
    (work / "baton-c1z-link").symlink_to(tmp_path)  # our prefix, but a symlink: never followed or removed
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(work)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == b"ready\n"
        live = [n for n in names(work) if n.startswith("baton-c1z-") and n != "baton-c1z-link"]
        assert sorted(n.split("-")[2] for n in live) == ["sync", "upload"]
        # While the owner lives, a sweep (another process starting, or our own) touches none of its files.
        assert sweep_stale(work) == []
        assert [p.name for p in sweep_stale_partials(out)] == [".out.c1z.save-dead_k9z.tmp"]
        assert ".out.c1z.save-live_k9z.tmp" in names(work)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    left = names(work)
    assert {".out.c1z.save-live_k9z.tmp", *live} <= set(left), "kill -9 leaves the working files behind"

    # The next start (a sync into the same temp dir and file) removes them, and nothing that is not ours.
    asyncio.run(sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=work))
    assert names(work) == [
        ".out.c1z.save-dead_k9z.tmp.keep",
        "baton-c1z-link",
        "c1z-not-ours",
        "out.c1z",
        "out.c1z.20261205.tmp",
        "out.c1z.backup.tmp",
        "out.c1z.my-notes.tmp",
    ]
    assert (tmp_path / "tmp").is_dir()


def test_a_temp_dir_without_locks_is_a_clear_error_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Some NFS and FUSE mounts refuse flock (ENOLCK): one line naming the directory and the cause, and nothing
    left in it (was a bare OSError: "unexpected error" in one-shot, "internal error (OSError)" for a task)."""

    def refused(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", refused)
    with pytest.raises(WorkDirError) as caught:
        WorkDir.create(tmp_path, "sync")
    assert str(caught.value) == f"cannot lock a working directory in {tmp_path}: No locks available"
    assert caught.value.retryable
    assert names(tmp_path) == []


def test_a_workdir_is_locked_until_released(tmp_path: Path) -> None:
    workdir = WorkDir.create(tmp_path, "sync")
    fd = os.open(workdir.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    assert sweep_stale(tmp_path) == []
    workdir.release()
    assert names(tmp_path) == []


async def test_a_full_disk_during_the_sync_is_reported_as_such(tmp_path: Path) -> None:
    store = await C1ZStore.create(tmp_path)
    try:
        await store.start_sync()
        # SQLite's own SQLITE_FULL, as when the volume is full: cap the file at its current size.
        await store._call(store._db.commit)
        await store._call(store._db.conn.execute, "PRAGMA max_page_count = 40")
        users = [b.add_user_trait(b.resource(USER, f"u{i}", "x" * 200)) for i in range(5000)]
        await store.write(None, resource_types=[USER], resources=users)  # queued: its failure comes next
        with pytest.raises(DiskFullError, match=r"^disk full: no space left in .*baton-c1z-sync-") as caught:
            await store.sync_runs()
        assert caught.value.retryable
        # No later write runs after a failed one: the saved state could claim a page that is not stored.
        with pytest.raises(InternalError, match="an earlier page could not be stored"):
            await store.write(None, resources=users[:1])
    finally:
        await store.close()


def saved_state(path: Path) -> tuple[str, list[str]]:
    """The saved sync's state token and its stored user ids."""
    from connector.baton.c1z.reader import C1ZReader

    with C1ZReader(path) as reader:
        return reader.sync_runs()[0].sync_token, sorted(r.id.resource for r in reader.resources("user"))


async def test_a_failed_page_leaves_the_token_of_the_page_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tokens are stored with the group's commit, not per page: a failed page must not take its token along.
    path = tmp_path / "s.c1z"
    real = rows.resource_row
    store = await C1ZStore.create(tmp_path)
    try:
        await store.start_sync()
        await store.write("after-u1", resource_types=[USER], resources=[b.resource(USER, "u1", "one")])
        # (waits for the queued write) the open group's token is what a reader sees
        assert [run.sync_token for run in await store.sync_runs()] == ["after-u1"]

        def failing(*args: Any) -> tuple[Any, ...]:
            raise OSError(errno.EIO, os.strerror(errno.EIO))

        monkeypatch.setattr(rows, "resource_row", failing)
        await store.write("after-u2", resources=[b.resource(USER, "u2", "two")])
        with pytest.raises(WorkDirError, match=r"while storing the sync: Input/output error$"):
            await store.sync_runs()
        assert [run.sync_token for run in await store.sync_runs()] == ["after-u1"]
        monkeypatch.setattr(rows, "resource_row", real)
        await store.save(path, vacuum=False)
    finally:
        await store.close()
    assert saved_state(path) == ("after-u1", ["u1"])


async def test_a_group_that_sqlite_rolls_back_takes_its_tokens_along(tmp_path: Path) -> None:
    # A full disk inside a group: whatever SQLite rolls back, the saved token never claims a page not stored.
    path = tmp_path / "s.c1z"
    store = await C1ZStore.create(tmp_path)
    try:
        await store.start_sync()
        await store.write("after-u1", resource_types=[USER], resources=[b.resource(USER, "u1", "one")])
        await store._call(store._db.commit)
        pages = await store._call(lambda: int(store._db.conn.execute("PRAGMA page_count").fetchone()[0]))
        await store._call(store._db.conn.execute, f"PRAGMA max_page_count = {pages + 2}")
        await store.write("after-u2", resources=[b.resource(USER, "u2", "two")])  # same group as the next
        big = [b.resource(USER, f"v{i}", "x" * 300) for i in range(2000)]
        await store.write("after-big", resources=big)
        with pytest.raises(DiskFullError):
            await store.sync_runs()
        await store.save(path, vacuum=False)
    finally:
        await store.close()
    token, users = saved_state(path)
    assert (token, users) in [("after-u1", ["u1"]), ("after-u2", ["u1", "u2"])]


async def test_a_full_disk_while_saving_is_reported_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(zstandard.ZstdCompressor, "copy_stream", no_space)
    out = tmp_path / "out" / "s.c1z"
    with pytest.raises(DiskFullError, match=rf"disk full: no space left in {out.parent} while saving {out}"):
        await sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path)
    assert names(out.parent) == [], "no partial file is left"
    assert names(tmp_path) == ["out"], "the working directory is removed"


@pytest.mark.parametrize(
    ("where", "cause"),
    [("under a file", "Not a directory"), ("read-only place", "Permission denied")],
)
async def test_an_unwritable_output_is_a_clear_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, cause: str
) -> None:
    """`--file` whose directory cannot be made or written (operator input): one clear line naming the file and
    the cause, not a raw OSError escaping as a traceback."""
    if where == "under a file":
        (tmp_path / "plain").write_text("not a directory")
        out = tmp_path / "plain" / "sub" / "s.c1z"
    else:
        out = tmp_path / "out" / "s.c1z"

        def refused(*args: object, **kwargs: object) -> None:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

        monkeypatch.setattr(tempfile, "mkstemp", refused)
    with pytest.raises(C1ZWriteError) as caught:
        await sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path)
    assert str(caught.value) == f"cannot write {out}: {cause}"


async def test_a_store_opening_cancelled_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = threading.Event(), threading.Event()
    real = envelope.decompress_to

    def slow(c1z: Path, db: Path, stop: threading.Event | None = None) -> None:
        started.set()
        release.wait(timeout=30)
        real(c1z, db, stop)

    monkeypatch.setattr(store_module, "decompress_to", slow)
    out = tmp_path / "s.c1z"
    await sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path)
    opening = asyncio.create_task(C1ZStore.open(out, tmp_path))
    await asyncio.to_thread(started.wait, 30)
    opening.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await opening
    # The store thread closes what it opened, then exits (its executor is shut down): wait for that.
    for thread in [t for t in threading.enumerate() if t.name.startswith("c1z-store")]:
        await asyncio.to_thread(thread.join, 30)
    assert names(tmp_path) == ["s.c1z"]


@pytest.mark.parametrize("failing_grant", [1, 40, 95])
async def test_a_failed_write_saves_a_partial_sync_that_resumes_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing_grant: int
) -> None:
    """Writes are pipelined; after one fails none runs, so the saved token never claims a missing page."""
    from tests.baton.test_sync_engine import rows_of

    clean = tmp_path / "clean.c1z"
    await sync_to_file(syncers(Org(), Faults()), clean, options())
    real = rows.grant_row
    calls = 0

    def flaky(*args: Any) -> tuple[Any, ...]:
        nonlocal calls
        calls += 1
        if calls == failing_grant:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(*args)

    monkeypatch.setattr(rows, "grant_row", flaky)
    path = tmp_path / "s.c1z"
    with pytest.raises(DiskFullError):
        await sync_to_file(syncers(Org(), Faults()), path, options(concurrency=3), tmp_dir=tmp_path)
    monkeypatch.setattr(rows, "grant_row", real)
    result = await sync_to_file(syncers(Org(), Faults()), path, options(concurrency=3), tmp_dir=tmp_path)
    assert result.resumed
    assert rows_of(path) == rows_of(clean)


@pytest.mark.parametrize("name", ["c1z#temp", "c1z?temp", "c1z%20temp"])
async def test_a_temp_dir_whose_name_holds_uri_characters_reads_and_resumes_its_files(
    tmp_path: Path, name: str
) -> None:
    """The read-only open takes a URI: a `#`, `?` or `%` in the temp dir's path cut or changed it, SQLite opened
    another file, and every c1z read as damaged ("no table v1_sync_runs"): the sync started over instead of
    resuming, and inspect refused every file."""
    from connector.baton.c1z.reader import C1ZReader
    from tests.baton.fake_connector import InjectedFailure

    temp = tmp_path / name
    temp.mkdir()
    path = tmp_path / "s.c1z"
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(Org(), Faults(fail_at_call=6)), path, options(concurrency=1), tmp_dir=temp)
    with C1ZReader(path, tmp_dir=temp) as reader:
        assert [run.finished for run in reader.sync_runs()] == [False]
    result = await sync_to_file(syncers(Org(), Faults()), path, options(concurrency=1), tmp_dir=temp)
    assert result.resumed
    assert names(temp) == []


@pytest.mark.parametrize(
    ("call", "error"),
    [("open", errno.EACCES), ("fsync", errno.EINVAL)],  # a drop box (mode 0333); a mount that cannot sync a directory
)
async def test_a_directory_that_cannot_be_synced_still_saves_the_c1z(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str, error: int
) -> None:
    """The rename is done when the directory's fsync comes: that it cannot be made (not supported, not readable)
    reported "cannot write FILE" with the new file in place and the old one gone."""
    out = tmp_path / "out" / "s.c1z"
    out.parent.mkdir()
    real_open, real_fsync = os.open, os.fsync

    def refusing_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if call == "open" and Path(path) == out.parent and flags == os.O_RDONLY:
            raise PermissionError(error, os.strerror(error))
        return real_open(path, flags, *args, **kwargs)

    def refusing_fsync(fd: int) -> None:
        if call == "fsync" and stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(error, os.strerror(error))
        real_fsync(fd)

    monkeypatch.setattr(os, "open", refusing_open)
    monkeypatch.setattr(os, "fsync", refusing_fsync)
    result = await sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path)
    monkeypatch.undo()
    from connector.baton.c1z.reader import C1ZReader

    with C1ZReader(out) as reader:
        assert [run.sync_id for run in reader.sync_runs()] == [result.sync_id]
    assert names(out.parent) == ["s.c1z"]


def test_a_killed_save_through_a_link_is_swept_where_it_was_written(tmp_path: Path) -> None:
    """`--file` naming a link: the save writes its temp file beside the target (renaming over the link would replace
    it), so the next start must sweep there; it swept beside the link, and the dead save's file stayed for good."""
    real, links = tmp_path / "real", tmp_path / "links"
    real.mkdir()
    links.mkdir()
    (links / "out.c1z").symlink_to(real / "sync.c1z")
    (real / ".sync.c1z.save-dead_k9z.tmp").write_bytes(b"C1ZF\0half a c1z")  # an interrupted save of a dead process
    assert [p.name for p in sweep_stale_partials(links / "out.c1z")] == [".sync.c1z.save-dead_k9z.tmp"]
    assert names(real) == []


def _open_spill_files() -> list[str]:
    """The files SQLite's sorter has spilled to and holds open (it unlinks them at once: only /proc shows them)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if "etilqs_" in target:  # SQLite's temp file prefix
                found.append(target)
    return found


# A sort larger than SQLite's page cache (2 MB): it spills, as the grant index build at the end of a large sync does.
_SPILLING_SORT = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) "
    "SELECT randomblob(40) AS v FROM n ORDER BY v"
)


def _spill(conn: sqlite3.Connection) -> list[str]:
    rows_ = conn.execute(_SPILLING_SORT)
    try:
        rows_.fetchone()  # the sort is done and its runs are merged from the spill files, still open
        return _open_spill_files()
    finally:
        rows_.close()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see unlinked files")
async def test_sqlites_own_temp_files_go_where_the_working_files_go(tmp_path: Path) -> None:
    """A sort too large for SQLite's cache (the grant index build of a large sync, a GROUP BY of `inspect`) spills to
    temp files. They hold the sync's ids and can be as large as an index: they belong in BATON_C1Z_TEMP_DIR with the
    working file, not in SQLite's own pick ($TMPDIR, /var/tmp), which a read-only root refused and a small one
    filled, reported as a full working directory."""
    work = tmp_path / "work"
    work.mkdir()
    store = await C1ZStore.create(work)
    try:
        spilled = await store._call(lambda: _spill(store._db.conn))
        await store.start_sync()
        await store.write("", resource_types=[USER])
        await store.end_sync("", supports_diff=True)
        await store.save(tmp_path / "sync.c1z")
    finally:
        await store.close()
    assert spilled, "the sort spilled"
    assert all(path.startswith(f"{work}/etilqs_") for path in spilled), spilled
    other = tmp_path / "other"
    other.mkdir()
    with C1ZReader(tmp_path / "sync.c1z", other) as reader:
        spilled = _spill(reader.connection)
    assert spilled
    assert all(path.startswith(f"{other}/etilqs_") for path in spilled), spilled


@dataclass
class _Held(Faults):
    """A sync that stops at its `hold_at`th connector call until `go` is set, then fails if `fail` is set."""

    hold_at: int = 2
    fail: bool = False
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    go: asyncio.Event = field(default_factory=asyncio.Event)

    async def enter(self) -> None:
        await super().enter()
        if self.calls == self.hold_at:
            self.reached.set()
            await self.go.wait()
            if self.fail:
                raise InjectedFailure("the held sync fails")


def _runs(path: Path, tmp_dir: Path) -> list[tuple[str, bool]]:
    with C1ZReader(path, tmp_dir) as reader:
        return [(run.sync_id, run.finished) for run in reader.sync_runs()]


async def test_a_second_sync_into_the_same_file_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    """A cron job's one-shot run overlapping the last, or a one-shot run beside the service's periodic sync: each
    saved the file it had opened plus its own sync, so the later save replaced the other's. Here the first run, which
    opened the file before the second finished, fails and saves its unfinished sync over the second's finished one.
    The second is refused instead, naming the file, and the finished sync that was there stays."""
    out = tmp_path / "sync.c1z"
    before = await sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path)
    held = _Held(fail=True)
    first = asyncio.create_task(sync_to_file(syncers(Org(), held), out, options(), tmp_dir=tmp_path))
    await held.reached.wait()
    try:
        with pytest.raises(C1ZBusyError, match=f"another sync is writing {out}"):  # pytest resolves tmp_path
            await sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path)
    finally:
        held.go.set()
    with pytest.raises(InjectedFailure):
        await first
    runs = _runs(out, tmp_path)
    assert runs[0] == (before.sync_id, True), "the finished sync is kept beside the unfinished one"
    assert len(runs) == 2
    assert not runs[1][1]
    assert names(tmp_path) == ["sync.c1z"], "the lock goes with the sync"
    done = await sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path)
    assert _runs(out, tmp_path) == [(done.sync_id, True)]


async def test_a_lock_file_a_killed_sync_left_is_taken_and_removed(tmp_path: Path) -> None:
    """The kernel drops a dead holder's lock; its file stays, and the next sync takes it like any other."""
    out = tmp_path / "sync.c1z"
    (tmp_path / ".sync.c1z.lock").write_bytes(b"")
    done = await sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path)
    assert _runs(out, tmp_path) == [(done.sync_id, True)]
    assert names(tmp_path) == ["sync.c1z"]


async def test_a_lock_file_that_is_not_a_regular_file_is_named_never_waited_on(tmp_path: Path) -> None:
    """A FIFO under the lock's name: opened for reading, it waited for a writer for good."""
    out, fifo = tmp_path / "sync.c1z", tmp_path / ".sync.c1z.lock"
    os.mkfifo(fifo)
    try:
        with pytest.raises(C1ZWriteError, match=r"its lock file .*\.sync\.c1z\.lock is not a regular file"):
            await asyncio.wait_for(sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path), 20)
    finally:
        with contextlib.suppress(OSError):  # a reader waiting on it is let go (no reader: ENXIO)
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert names(tmp_path) == [".sync.c1z.lock"]


async def test_a_sync_cancelled_while_taking_the_lock_leaves_it_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A drain that cancels the service's periodic sync as it starts: the lock it was taking is dropped once taken,
    or the next periodic sync into the file would find it held by this very process for good."""
    out = tmp_path / "sync.c1z"
    released = threading.Event()
    release = workfiles.OutputLock.release

    def releasing(lock: workfiles.OutputLock) -> None:
        release(lock)
        released.set()

    monkeypatch.setattr(workfiles.OutputLock, "release", releasing)
    starting = asyncio.create_task(sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path))
    await asyncio.sleep(0)  # the task starts taking the lock on a worker thread
    starting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await starting
    assert await asyncio.to_thread(released.wait, 20), "the lock taken as the sync was cancelled is released"
    done = await sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path)
    assert _runs(out, tmp_path) == [(done.sync_id, True)]
