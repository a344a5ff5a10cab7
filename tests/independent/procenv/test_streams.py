"""The daemon's standard streams as a supervisor may leave them: closed at exec (`>&- 2>&-`, a cron line, a
supervisor with no log), or a log pipe whose reader went away (a log shipper restarted, `| tee` killed): every later
write to it fails with EPIPE (SIGPIPE is ignored by Python). The daemon must go on serving: every task reported once,
SIGTERM a clean stop (exit 0). A one-shot sync whose log reader went away writes its file and exits with its code."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading

import pytest

from tests.e2e.harness import ACT_TIMEOUT, READY_TIMEOUT, Stack, assert_success, daemon_command, only_finish, wait_for
from tests.fakes.tasks import grant_task, kind_task
from tests.independent.procenv.rig import OUTPUTS, one_shot_with_output, service_env

pytestmark = pytest.mark.slow


def serve_tasks(stack: Stack, process: subprocess.Popen[bytes]) -> None:
    """A full sync and a grant, each reported once as a success; then SIGTERM, exit 0."""
    c1, org = stack.c1, stack.dd.org
    role = next(r for r in org.roles.values() if not r.managed)
    user = next(u for u in org.users.values() if u.status == "Active" and role.id not in u.role_ids)
    tasks = [kind_task("sync_full"), grant_task("role", role.id, "member", user.id)]
    for task in tasks:
        c1.enqueue(task)

    def reported() -> bool:
        assert process.poll() is None, f"the daemon died (exit {process.returncode})"
        return all(c1.recorded().finish_tasks.get(task.id) for task in tasks)

    wait_for(reported, timeout=READY_TIMEOUT + ACT_TIMEOUT, what="every task reported")
    for task in tasks:
        assert_success(only_finish(c1.recorded(), task.id))
    assert role.id in org.users[user.id].role_ids
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0


@pytest.mark.parametrize("closed", ["<&- >&- 2>&-", ">&- 2>&-", "2>&-"])
def test_a_daemon_started_with_its_streams_closed_serves_and_stops(stack: Stack, closed: str) -> None:
    process = subprocess.Popen(
        ["sh", "-c", f'exec "$@" {closed}', "sh", *daemon_command()],
        env=service_env(stack),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=stack.root,
    )
    try:
        serve_tasks(stack, process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def read_until(read_end: int, process: subprocess.Popen[bytes], event: str) -> None:
    guard = threading.Timer(READY_TIMEOUT, process.kill)
    guard.start()
    buffered = b""
    try:
        while True:
            chunk = os.read(read_end, 1)
            if not chunk:
                raise AssertionError(f"the run ended before it logged {event!r} (exit {process.wait()})")
            buffered += chunk
            if chunk == b"\n":
                if json.loads(buffered).get("event") == event:
                    return
                buffered = b""
    finally:
        guard.cancel()


def test_a_daemon_whose_log_reader_went_away_serves_and_stops(stack: Stack) -> None:
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            daemon_command(), env=service_env(stack), stdout=write_end, stderr=write_end, stdin=subprocess.DEVNULL
        )
        os.close(write_end)
        write_end = -1
        try:
            read_until(read_end, process, "connected to ConductorOne")
            os.close(read_end)  # the reader is gone: every later write is EPIPE
            read_end = -1
            serve_tasks(stack, process)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)


@pytest.mark.parametrize(("key", "code"), [(None, 0), ("0123456789abcdef0123456789abcdef", 1)], ids=["ok", "refused"])
def test_a_one_shot_sync_whose_log_reader_went_away_exits_with_its_code(
    stack: Stack, key: str | None, code: int
) -> None:
    (stack.root / "tmp").mkdir(exist_ok=True)
    target = stack.root / "sync.c1z"
    env = stack.env({"BATON_CLIENT_ID": None, "BATON_CLIENT_SECRET": None, "BATON_HOST_ID": None})
    env = {k: v for k, v in env.items() if not k.startswith(("BATON_C1", "BATON_HEALTH"))}
    if key:
        env["BATON_API_KEY"] = key
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(
            [*daemon_command(), "--file", str(target)],
            env=env,
            stdout=write_end,
            stderr=write_end,
            stdin=subprocess.DEVNULL,
        )
        os.close(write_end)
        write_end = -1
        read_until(read_end, process, "starting")
        os.close(read_end)
        read_end = -1
        assert process.wait(READY_TIMEOUT) == code
        assert target.exists() == (code == 0)
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)


@pytest.mark.parametrize("output", OUTPUTS)
def test_a_one_shot_sync_whose_output_fails_says_the_file_was_written(stack: Stack, output: str) -> None:
    """The summary could not be printed: exit 1, as README has it, and the line says the file is there (it said only
    "cannot write the output", and a cron job's retry synced again for nothing)."""
    target = stack.root / "sync.c1z"
    done = one_shot_with_output(stack, output, ["--file", str(target)])
    assert done.returncode == 1, done.stderr[-2000:]
    line = done.stderr.splitlines()[-1]
    assert line.startswith("baton-datadog: cannot write the output: "), line
    assert line.endswith(f"; the sync file {target} was written (sync {line.rsplit('(sync ', 1)[1]}"), line
    assert target.stat().st_size > 0


@pytest.mark.parametrize("output", OUTPUTS)
def test_a_one_shot_change_whose_output_fails_says_it_was_made_and_its_result(stack: Stack, output: str) -> None:
    """An account created, its printed result lost: the line said only "cannot write the output" (exit 1), and the
    account was taken for not created; run again, it was refused as "already exists"."""
    email = "procenv-output@example.com"
    args = ["-p", "--create-account-email", email, "--create-account-name", "Out Put"]
    done = one_shot_with_output(stack, output, args)
    assert done.returncode == 1, done.stderr[-2000:]
    line = done.stderr.splitlines()[-1]
    assert line.startswith("baton-datadog: cannot write the output: "), line
    assert "; --create-account-email was done; its result: created account user:" in line, line
    created = [user for user in stack.dd.org.users.values() if user.email == email]
    assert len(created) == 1
    assert created[0].id in line
