"""Stop signals as the parent left them: a mask and dispositions survive exec. A supervisor, a CI agent or a Python
program that spawned the connector from a thread blocking SIGTERM and SIGINT left them blocked in it: the daemon ran on
through every SIGTERM (a pod's stop ended in SIGKILL after its grace, tasks in flight unreported), as no Go program
does (Go's runtime unblocks the signals a program asks to be told of). Ignored ones (a background job of a
non-interactive shell ignores SIGINT; `nohup`) are replaced by the daemon's handlers, and stay so."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.e2e.harness import ACT_TIMEOUT, READY_TIMEOUT, Stack, assert_success, daemon_command, only_finish, wait_for
from tests.fakes.tasks import grant_task
from tests.independent.procenv.rig import service_env, start_logged

pytestmark = pytest.mark.slow

EXIT_BOUND = 30.0
"""How long a stopped daemon may take to exit (its 2 s grace, the log's drain and the threads' wait, on a loaded host):
a bound on the hang, not a measure."""


def started_with(how: str, names: tuple[str, ...]) -> list[str]:
    """The daemon exec'd by a parent that left `names` blocked (`block`) or ignored (`ignore`)."""
    signals = "{" + ", ".join(f"signal.{name}" for name in names) + "}"
    prepare = (
        f"signal.pthread_sigmask(signal.SIG_BLOCK, {signals})"
        if how == "block"
        else f"[signal.signal(s, signal.SIG_IGN) for s in {signals}]"
    )
    code = f"import os, signal, sys; {prepare}; os.execvp(sys.argv[1], sys.argv[1:])"
    return [sys.executable, "-c", code, *daemon_command()]


@pytest.mark.parametrize(
    ("how", "stop"),
    [("block", signal.SIGTERM), ("block", signal.SIGINT), ("ignore", signal.SIGTERM), ("ignore", signal.SIGINT)],
    ids=["blocked-term", "blocked-int", "ignored-term", "ignored-int"],
)
def test_a_daemon_started_with_its_stop_signals_blocked_or_ignored_serves_and_stops(
    stack: Stack, how: str, stop: signal.Signals
) -> None:
    c1, org = stack.c1, stack.dd.org
    process, log = start_logged(stack, started_with(how, ("SIGTERM", "SIGINT")), service_env(stack))
    try:
        role = next(r for r in org.roles.values() if not r.managed)
        user = next(u for u in org.users.values() if u.status == "Active" and role.id not in u.role_ids)
        grant = grant_task("role", role.id, "member", user.id)
        c1.enqueue(grant)

        def reported() -> bool:
            assert process.poll() is None, log.read_text()[-2000:]
            return bool(c1.recorded().finish_tasks.get(grant.id))

        wait_for(reported, timeout=READY_TIMEOUT + ACT_TIMEOUT, what="the grant reported")
        assert_success(only_finish(c1.recorded(), grant.id))
        process.send_signal(stop)
        try:
            code = process.wait(EXIT_BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{stop.name} did not stop the daemon started with it {how}ed")
        assert code == 0, log.read_text()[-2000:]
        assert f'"signal": "{stop.name}"' in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
