"""kill -9 during a service-mode sync, then a restart: the dead process's working files are removed at start-up
(issue 11 §8), before the daemon reports ready."""

from __future__ import annotations

import shutil
import signal

from connector.baton.errors import Code
from tests.e2e.harness import ACT_TIMEOUT, Stack, assert_error, only_finish
from tests.fakes.tasks import kind_task


def test_a_restart_removes_what_a_killed_daemon_left(stack: Stack) -> None:
    c1, dd = stack.c1, stack.dd
    work = stack.root / "shared-work"
    work.mkdir()
    first = stack.start({"BATON_C1Z_TEMP_DIR": str(work)})
    dd.faults.latency = 3.0  # the sync is still running when it is killed
    c1.enqueue(kind_task("sync_full"))
    first.wait_for(lambda: first.events("sync started"), timeout=ACT_TIMEOUT, what="the sync to start")

    first.send_signal(signal.SIGKILL)
    assert first.wait_exit(ACT_TIMEOUT) == -signal.SIGKILL
    left = sorted(p.name for p in work.iterdir())
    assert [name.split("-")[2] for name in left] == ["sync", "upload"], left

    dd.faults.latency = 0.0
    second = stack.start({"BATON_C1Z_TEMP_DIR": str(work)})  # waits for /readyz
    assert list(work.iterdir()) == []
    assert second.events("removed working files of dead processes")


def test_a_working_directory_removed_during_a_sync_is_a_retryable_failure_naming_it(stack: Stack) -> None:
    """The disk under the sync's working file failed (here its directory went; EIO or a file-size limit alike): the
    task ends with one FinishTask naming the file and SQLite's cause, retryable, not a hang, and not "damaged SQLite
    database" (non-retryable: ConductorOne would not reschedule a sync the operator can fix)."""
    c1, dd = stack.c1, stack.dd
    work = stack.root / "work"
    work.mkdir()
    daemon = stack.start({"BATON_C1Z_TEMP_DIR": str(work)})
    dd.faults.latency = 0.5
    task = kind_task("sync_full")
    c1.enqueue(task)
    daemon.wait_for(lambda: daemon.events("sync started"), timeout=ACT_TIMEOUT, what="the sync to start")
    (working,) = [p for p in work.iterdir() if p.name.startswith("baton-c1z-sync-")]
    shutil.rmtree(working)
    dd.faults.latency = 0.0
    daemon.wait_for(lambda: task.id in c1.recorded().finish_tasks, timeout=60, what="the sync's FinishTask")
    finish = only_finish(c1.recorded(), task.id)
    assert_error(finish, code=Code.FAILED_PRECONDITION.value, non_retryable=False)
    assert finish.status.message.startswith(f"cannot use the working file {working}/sync.db while storing the sync: ")
    assert finish.status.message.endswith("(SQLITE_READONLY_DBMOVED)")
    assert not any(u.task_id == task.id for u in c1.recorded().uploads)
    assert list(work.iterdir()) == [], "the task's working files are removed"


def test_a_restart_removes_the_partial_save_a_killed_periodic_sync_left_before_it_is_ready(stack: Stack) -> None:
    """A daemon killed while its periodic sync (BATON_SYNC_INTERVAL) saved `--file` left the save's temp file beside
    it, a whole c1z's size. The restart removes it with the temp dir's leftovers, before the Hello: it was removed
    only by the first periodic sync, after the daemon was ready, and never while ConductorOne was unreachable (a crash
    loop then kept one more such file per kill)."""
    out = stack.root / "out"
    out.mkdir()
    c1z = out / "periodic.c1z"
    # What a save killed mid-write leaves: its mkstemp file, the c1z magic first, no longer locked by anyone (the
    # kernel dropped the lock).
    left = out / ".periodic.c1z.save-k9x2ab7q.tmp"
    left.write_bytes(b"C1ZF\x00" + b"\x00" * 4096)
    users_file = out / "periodic.c1z.20261205.tmp"  # a user's dated copy: not ours, kept
    users_file.write_bytes(b"mine")

    daemon = stack.start({"BATON_SYNC_INTERVAL": "3600", "BATON_FILE": str(c1z)})
    events = daemon.events()
    swept = [i for i, e in enumerate(events) if e.get("event") == "removed working files of dead processes"]
    beside = [i for i in swept if events[i].get("directory") == str(out)]
    (connected,) = [i for i, e in enumerate(events) if e.get("event") == "connected to ConductorOne"]
    assert beside, "the partial save beside --file was not removed"
    assert beside[0] < connected, "the partial save beside --file was removed only after the Hello"
    assert not left.exists()
    assert users_file.read_bytes() == b"mine"
    daemon.wait_for(lambda: daemon.events("periodic sync written"), timeout=30, what="the periodic sync")
