"""The sweep of dead saves' temp files of other `--file` names never disturbs a live save, and says only what it did.

A save (and the start-up check's probe) makes its temp file with mkstemp and only then takes its lock with LOCK_NB. A
sweep that locked every unlocked file of that shape to read its first bytes could hold a live writer's fresh file in
that moment: the writer's own lock then failed ("Resource temporarily unavailable"), its sync lost or its start
refused. The first bytes are read before any lock is tried, so a file without the magic (a fresh one) is never locked
by the sweep. A save that finishes while the sweep looks at it is not counted as removed, and a save whose lock is
refused closes its temp file's descriptor. The interleavings are forced (the sweep paused where it reads the magic).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

from connector.baton.c1z import envelope, workfiles
from connector.baton.c1z.errors import C1ZWriteError
from connector.baton.sync import to_file

MAGIC = b"C1ZF\x00"


def _sweep_paused_at_each_new_temp_file(
    monkeypatch: pytest.MonkeyPatch, other: Path
) -> tuple[threading.Event, list[threading.Thread]]:
    """Start a sweep of `other`'s directory right after each mkstemp, and hold it where it reads a file's first bytes
    until the returned event is set."""
    looking, go = threading.Event(), threading.Event()
    real_check = workfiles._starts_as_a_c1z

    def paused_check(fd: int) -> bool:
        looking.set()
        go.wait(5)
        return real_check(fd)

    monkeypatch.setattr(workfiles, "_starts_as_a_c1z", paused_check)
    real_mkstemp = tempfile.mkstemp
    threads: list[threading.Thread] = []

    def mkstemp_then_sweep(*args: object, **kwargs: object) -> tuple[int, str]:
        made = real_mkstemp(*args, **kwargs)  # type: ignore[call-overload]
        sweeper = threading.Thread(target=workfiles.sweep_stale_partials, args=(other,))
        sweeper.start()
        threads.append(sweeper)
        looking.wait(2)
        return made  # type: ignore[no-any-return]

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_then_sweep)
    return go, threads


def _first_lock_held(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Make the first lock taken answer as a lock another process holds (a sweep looking at a fresh file); the list
    counts the refusals."""
    real_flock, refused = fcntl.flock, [0]

    def held_once(fd: int, operation: int) -> None:
        if not refused[0]:
            refused[0] += 1
            raise BlockingIOError(11, "Resource temporarily unavailable")
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", held_once)
    return refused


def _finish(go: threading.Event, threads: list[threading.Thread]) -> None:
    go.set()
    for thread in threads:
        thread.join()


def test_a_save_of_another_name_is_saved_while_a_sweep_looks_at_its_fresh_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "sync.db"
    db.write_bytes(b"x" * 4096)
    go, threads = _sweep_paused_at_each_new_temp_file(monkeypatch, tmp_path / "a.c1z")
    try:
        envelope.compress_atomically(db, tmp_path / "b.c1z")
    finally:
        _finish(go, threads)
    assert (tmp_path / "b.c1z").read_bytes().startswith(MAGIC)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_the_start_up_check_of_another_name_is_not_refused_while_a_sweep_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    go, threads = _sweep_paused_at_each_new_temp_file(monkeypatch, tmp_path / "a.c1z")
    try:
        problem = to_file._saving_beside_problem(tmp_path / "b.c1z")
    finally:
        _finish(go, threads)
    assert problem is None


def test_a_save_that_finishes_while_the_sweep_looks_is_not_said_to_be_removed(tmp_path: Path) -> None:
    """The sweep opened a dead-looking save's file; before its lock, the save renamed it onto its c1z and let go."""
    temp = tmp_path / ".b.c1z.save-abcd1234.tmp"
    temp.write_bytes(MAGIC + b"a finished save")
    real_check = workfiles._starts_as_a_c1z

    def renamed_meanwhile(fd: int) -> bool:
        seen = real_check(fd)
        temp.replace(tmp_path / "b.c1z")
        return seen

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(workfiles, "_starts_as_a_c1z", renamed_meanwhile)
        removed = workfiles.sweep_stale_partials(tmp_path / "a.c1z")
    assert removed == []
    assert (tmp_path / "b.c1z").read_bytes() == MAGIC + b"a finished save"


def test_a_dead_save_of_another_name_is_still_removed(tmp_path: Path) -> None:
    dead = tmp_path / ".b.c1z.save-abcd1234.tmp"
    dead.write_bytes(MAGIC + b"half a frame")
    assert workfiles.sweep_stale_partials(tmp_path / "a.c1z") == [dead]
    assert not dead.exists()


def test_a_live_save_of_another_name_that_holds_its_lock_is_kept(tmp_path: Path) -> None:
    live = tmp_path / ".b.c1z.save-abcd1234.tmp"
    live.write_bytes(MAGIC + b"being written")
    with live.open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert workfiles.sweep_stale_partials(tmp_path / "a.c1z") == []
    assert live.exists()


def test_a_save_whose_lock_is_refused_closes_its_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "sync.db"
    db.write_bytes(b"x" * 4096)

    def refused(fd: int, operation: int) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    before = set(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(fcntl, "flock", refused)
    with pytest.raises(C1ZWriteError):
        envelope.compress_atomically(db, tmp_path / "b.c1z")
    monkeypatch.undo()
    assert set(os.listdir("/proc/self/fd")) - before == set()
    assert [p.name for p in tmp_path.iterdir()] == ["sync.db"]


def test_a_live_save_of_the_same_name_survives_a_sweep_right_after_its_mkstemp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process's start-up sweep runs outside this file's output lock: it locked and removed the save's fresh,
    still unlocked temp file, and the save failed with "No such file or directory"."""
    db = tmp_path / "sync.db"
    db.write_bytes(b"x" * 4096)
    target = tmp_path / "b.c1z"
    real_mkstemp = tempfile.mkstemp
    swept: list[list[Path]] = []

    def mkstemp_then_sweep(*args: object, **kwargs: object) -> tuple[int, str]:
        made = real_mkstemp(*args, **kwargs)  # type: ignore[call-overload]
        swept.append(workfiles.sweep_stale_partials(target))
        return made  # type: ignore[no-any-return]

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_then_sweep)
    envelope.compress_atomically(db, target)
    assert swept == [[]]
    assert target.read_bytes().startswith(MAGIC)


def test_a_dead_save_of_our_name_killed_before_its_magic_goes_once_it_is_old(tmp_path: Path) -> None:
    dead = tmp_path / ".b.c1z.save-abcd1234.tmp"
    dead.write_bytes(b"")
    assert workfiles.sweep_stale_partials(tmp_path / "b.c1z") == []  # young: it may be a live save's, just made
    old = time.time() - workfiles.UNMARKED_GRACE_SECONDS - 5
    os.utime(dead, (old, old))
    assert workfiles.sweep_stale_partials(tmp_path / "b.c1z") == [dead]
    other = tmp_path / ".c.c1z.save-abcd1234.tmp"
    other.write_bytes(b"")
    os.utime(other, (old, old))
    assert workfiles.sweep_stale_partials(tmp_path / "b.c1z") == []  # another name's: nothing tells it ours


def test_a_dead_unmarked_save_dated_ahead_by_a_clock_since_set_back_is_swept(tmp_path: Path) -> None:
    dead = tmp_path / ".b.c1z.save-abcd1234.tmp"
    dead.write_bytes(b"")
    ahead = time.time() + 3600
    os.utime(dead, (ahead, ahead))
    assert workfiles.sweep_stale_partials(tmp_path / "b.c1z") == [dead]


def test_a_live_save_whose_fresh_file_a_sweep_removes_before_its_lock_makes_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep whose clock stepped forward takes a fresh file of our own name for a dead one between the save's
    mkstemp and its lock, and removes it: the save wrote into a file no name pointed at and failed at the rename."""
    db = tmp_path / "sync.db"
    db.write_bytes(b"x" * 4096)
    target = tmp_path / "b.c1z"
    real_mkstemp, real_time = tempfile.mkstemp, time.time
    swept: list[list[Path]] = []

    def mkstemp_then_sweep_ahead(*args: object, **kwargs: object) -> tuple[int, str]:
        made = real_mkstemp(*args, **kwargs)  # type: ignore[call-overload]
        if not swept:
            with pytest.MonkeyPatch.context() as clock:
                clock.setattr(time, "time", lambda: real_time() + 120)
                swept.append(workfiles.sweep_stale_partials(target))
        return made  # type: ignore[no-any-return]

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp_then_sweep_ahead)
    envelope.compress_atomically(db, target)
    assert len(swept[0]) == 1  # the first file was taken
    assert target.read_bytes().startswith(MAGIC)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_lock_held_by_a_sweep_makes_the_save_take_another_file_and_leaves_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "sync.db"
    db.write_bytes(b"x" * 4096)
    refused = _first_lock_held(monkeypatch)
    envelope.compress_atomically(db, tmp_path / "b.c1z")
    monkeypatch.undo()
    assert refused == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.c1z", "sync.db"]


def test_the_magic_is_on_disk_while_the_save_compresses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Buffered until the first flush after the whole compression, a save killed while compressing left an empty file
    a sweep cannot tell from a live save's fresh one."""
    import zstandard

    db = tmp_path / "sync.db"
    db.write_bytes(b"x" * (1 << 16))
    seen: list[bytes] = []
    real = zstandard.ZstdCompressor

    class Watching:
        def __init__(self, *args: object, **kwargs: object) -> None:
            self._compressor = real(*args, **kwargs)  # type: ignore[arg-type]

        def copy_stream(self, source: object, target: object, **kwargs: object) -> tuple[int, int]:
            (temp,) = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            seen.append(temp.read_bytes()[:5])
            return self._compressor.copy_stream(source, target, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(zstandard, "ZstdCompressor", Watching)
    envelope.compress_atomically(db, tmp_path / "b.c1z")
    assert seen == [MAGIC]


def test_the_start_up_probe_takes_another_file_when_a_sweep_holds_its_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The start-up check makes the save's temp file as the save does (`locked_save_temp`): one held by a sweep for a
    moment refused the start with "cannot lock files (Resource temporarily unavailable)"."""
    refused = _first_lock_held(monkeypatch)
    assert to_file._saving_beside_problem(tmp_path / "b.c1z") is None
    monkeypatch.undo()
    assert refused == [1]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("errno_name", ["ENOLCK", "EINVAL", "ENOSYS"])
def test_a_file_system_that_refuses_locks_is_named_so_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errno_name: str
) -> None:
    """A lock the file system refuses (an NFS mount without lockd) is no other process's: not retried, the start-up
    check says the directory cannot lock files, the save fails, and no temp file stays."""
    import errno

    code = getattr(errno, errno_name)

    def refused(fd: int, operation: int) -> None:
        raise OSError(code, os.strerror(code))

    db = tmp_path / "sync.db"
    db.write_bytes(b"x" * 4096)
    monkeypatch.setattr(fcntl, "flock", refused)
    problem = to_file._saving_beside_problem(tmp_path / "b.c1z")
    with pytest.raises(C1ZWriteError, match=os.strerror(code)):
        envelope.compress_atomically(db, tmp_path / "b.c1z")
    monkeypatch.undo()
    assert problem == f"the directory {tmp_path} cannot lock files ({os.strerror(code)})"
    assert [p.name for p in tmp_path.iterdir()] == ["sync.db"]
