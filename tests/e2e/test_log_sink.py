"""The log sink failing under a running daemon: its reader gone (a broken pipe: a log shipper or journald restarted,
`| tee` killed) or its file on a full disk. Logs are a side channel: losing them must not lose the work. The
daemon keeps serving, every task is still reported, and SIGTERM still drains and exits 0.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path

import httpx

from tests.e2e.harness import READY_TIMEOUT, Stack, assert_success, daemon_command, only_finish, wait_for
from tests.fakes.tasks import grant_task, kind_task


def test_a_daemon_whose_log_pipe_breaks_keeps_working_and_reporting(stack: Stack, tmp_path: Path) -> None:
    c1, org = stack.c1, stack.dd.org
    (stack.root / "tmp").mkdir(exist_ok=True)
    work = tmp_path / "work"
    work.mkdir()
    env = stack.env({"BATON_C1Z_TEMP_DIR": str(work), "BATON_PROVISIONING": "true"})
    with (tmp_path / "stdout").open("wb") as out:
        daemon = subprocess.Popen(
            daemon_command(), env=env, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, cwd=stack.root
        )
    try:
        assert daemon.stderr is not None
        # Read the log until the daemon is connected, then go away as a dead log reader does. A daemon that never
        # connects is killed (its log then ends), not waited for without end.
        port = 0
        guard = threading.Timer(READY_TIMEOUT, daemon.kill)
        guard.start()
        try:
            for line in daemon.stderr:
                record = json.loads(line)
                port = record.get("port", port) if record.get("event") == "health server listening" else port
                if record.get("event") == "connected to ConductorOne":
                    break
            else:
                raise AssertionError(f"the daemon ended before it connected (exit {daemon.wait(READY_TIMEOUT)})")
        finally:
            guard.cancel()
        daemon.stderr.close()

        role = next(r for r in org.roles.values() if not r.managed)
        user = next(u for u in org.users.values() if u.status == "Active" and role.id not in u.role_ids)
        grant, sync = grant_task("role", role.id, "member", user.id), kind_task("sync_full")
        c1.enqueue(grant)
        c1.enqueue(sync)

        def finished_or_dead() -> bool:
            recorded = c1.recorded().finish_tasks
            return daemon.poll() is not None or bool(recorded.get(grant.id) and recorded.get(sync.id))

        wait_for(finished_or_dead, timeout=30.0, what="both tasks reported (a task ended unreported)")
        assert daemon.poll() is None, f"the daemon died with its log pipe (exit {daemon.returncode})"
        recorded = c1.recorded()
        assert_success(only_finish(recorded, grant.id))
        assert_success(only_finish(recorded, sync.id))
        assert role.id in org.users[user.id].role_ids
        # The lines nobody could read are counted where an operator looks.
        scrape = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=READY_TIMEOUT).text
        dropped = next(
            line for line in scrape.splitlines() if line.startswith("baton_datadog_log_writes_dropped_total")
        )
        assert float(dropped.split()[1]) > 0

        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(READY_TIMEOUT) == 0
        assert b"Traceback" not in (tmp_path / "stdout").read_bytes()
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
