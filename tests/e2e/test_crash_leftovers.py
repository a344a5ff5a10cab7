"""kill -9 during a service-mode sync, then a restart: the dead process's working files are removed at start-up
(issue 11 §8), before the daemon reports ready."""

from __future__ import annotations

import signal

from tests.e2e.harness import Stack
from tests.fakes.tasks import kind_task


def test_a_restart_removes_what_a_killed_daemon_left(stack: Stack) -> None:
    c1, dd = stack.c1, stack.dd
    work = stack.root / "shared-work"
    work.mkdir()
    first = stack.start({"BATON_C1Z_TEMP_DIR": str(work)})
    dd.faults.latency = 3.0  # the sync is still running when it is killed
    c1.enqueue(kind_task("sync_full"))
    first.wait_for(lambda: first.events("sync started"), timeout=10, what="the sync to start")

    first.send_signal(signal.SIGKILL)
    assert first.wait_exit(10) == -signal.SIGKILL
    left = sorted(p.name for p in work.iterdir())
    assert [name.split("-")[2] for name in left] == ["sync", "upload"], left

    dd.faults.latency = 0.0
    second = stack.start({"BATON_C1Z_TEMP_DIR": str(work)})  # waits for /readyz
    assert list(work.iterdir()) == []
    assert second.events("removed working files of dead processes")
