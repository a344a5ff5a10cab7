"""The daemon and a one-shot sync whose stderr is a pipe that fills and is never read again.

Each run's stderr is a pipe the test reads until the run is under way, then fills to the brim from its own copy of
the write end and stops reading: every later write to it would block. The run must go on as if its log were read
(a task enqueued afterwards is reported, /healthz answers, SIGTERM ends it with exit 0; a one-shot sync writes its
file and exits 0). What is dropped and counted once the queue is full is `test_writer.py`'s (a megabyte of lines is
more than these runs log). Waits are bounds, not measurements: a run still going after its bound is the hang, killed
and failed.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.harness import ACT_TIMEOUT, READY_TIMEOUT, Stack, daemon_command, wait_for
from tests.fakes.tasks import grant_task

pytestmark = pytest.mark.slow

GRACE = 2
"""The daemon's shutdown grace (BATON_SHUTDOWN_GRACE_SECONDS): nothing runs at the SIGTERM, so it is not used."""
EXIT_BOUND = GRACE + 10.0
"""How long a stopped run may take to exit: its grace, the log's bounded drain and the worker threads' wait, with
room to spare on a loaded machine."""


def fill(write_end: int) -> int:
    """Fill the pipe behind `write_end` until a write would block; the bytes written. The descriptor is non-blocking
    only meanwhile: the flag is the open file's, shared with the process under test."""
    flags = fcntl.fcntl(write_end, fcntl.F_GETFL)
    fcntl.fcntl(write_end, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    written = 0
    try:
        while True:
            written += os.write(write_end, b"#" * 4096)
    except BlockingIOError:
        return written
    finally:
        fcntl.fcntl(write_end, fcntl.F_SETFL, flags)


@contextlib.contextmanager
def stalled_stderr() -> Iterator[tuple[int, int]]:
    """A pipe for a run's stderr: (read end, write end), both closed after."""
    read_end, write_end = os.pipe()
    try:
        yield read_end, write_end
    finally:
        os.close(read_end)
        with contextlib.suppress(OSError):
            os.close(write_end)


def read_until(read_end: int, process: subprocess.Popen[bytes], event: str) -> dict[str, object]:
    """Read JSON log lines from `read_end` until one whose event is `event` (then stop reading, as a stuck reader
    does); the fields of the lines read, merged. A run that never logs it is killed (its pipe then ends)."""
    seen: dict[str, object] = {}
    guard = threading.Timer(READY_TIMEOUT, process.kill)
    guard.start()
    buffered = b""
    try:
        while True:
            chunk = os.read(read_end, 1)  # one byte at a time: nothing past the line is taken from the pipe
            if not chunk:
                raise AssertionError(f"the run ended before it logged {event!r} (exit {process.wait()})")
            buffered += chunk
            if chunk == b"\n":
                record = json.loads(buffered)
                buffered = b""
                seen |= record
                if record.get("event") == event:
                    return seen
    finally:
        guard.cancel()


def test_a_daemon_whose_stderr_stops_being_read_keeps_serving_and_stops_on_sigterm(stack: Stack) -> None:
    c1, org = stack.c1, stack.dd.org
    (stack.root / "tmp").mkdir(exist_ok=True)
    work = stack.root / "work"
    work.mkdir()
    env = stack.env(
        {"BATON_C1Z_TEMP_DIR": str(work), "BATON_PROVISIONING": "true", "BATON_SHUTDOWN_GRACE_SECONDS": str(GRACE)}
    )
    with stalled_stderr() as (read_end, write_end), (stack.root / "stdout").open("wb") as out:
        daemon = subprocess.Popen(
            daemon_command(), env=env, stdout=out, stderr=write_end, stdin=subprocess.DEVNULL, cwd=stack.root
        )
        try:
            port = read_until(read_end, daemon, "connected to ConductorOne")["port"]
            assert fill(write_end) > 0
            role = next(r for r in org.roles.values() if not r.managed)
            user = next(u for u in org.users.values() if u.status == "Active" and role.id not in u.role_ids)
            grant = grant_task("role", role.id, "member", user.id)
            c1.enqueue(grant)  # its "task started" line finds the pipe full: the loop blocked there for good

            def reported_or_dead() -> bool:
                return daemon.poll() is not None or bool(c1.recorded().finish_tasks.get(grant.id))

            wait_for(reported_or_dead, timeout=ACT_TIMEOUT, what="the grant reported while the log pipe is full")
            assert daemon.poll() is None, f"the daemon died (exit {daemon.returncode})"
            assert role.id in org.users[user.id].role_ids
            health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=ACT_TIMEOUT)
            assert health.status_code == 200

            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(EXIT_BOUND) == 0
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()


@pytest.mark.parametrize(
    ("overrides", "code"),
    [({}, 0), ({"BATON_API_KEY": "rejected-api-key-0123456789abcdef"}, 1)],
    ids=["finished", "keys-rejected"],
)
def test_a_one_shot_sync_whose_stderr_stops_being_read_exits_with_its_code(
    stack: Stack, overrides: dict[str, str], code: int
) -> None:
    (stack.root / "tmp").mkdir(exist_ok=True)
    target = stack.root / "sync.c1z"
    # One-shot: no ConductorOne. Its lines after the start's (the keys checked, the file written or the failure and
    # the closing line) find the pipe full.
    env = stack.env({"BATON_CLIENT_ID": None, "BATON_CLIENT_SECRET": None, **overrides})
    env = {k: v for k, v in env.items() if not k.startswith(("BATON_C1", "BATON_HEALTH"))}
    with stalled_stderr() as (read_end, write_end), (stack.root / "stdout").open("wb") as out:
        process = subprocess.Popen(
            [*daemon_command(), "--file", str(target)],
            env=env,
            stdout=out,
            stderr=write_end,
            stdin=subprocess.DEVNULL,
            cwd=stack.root,
        )
        try:
            read_until(read_end, process, "starting")
            assert fill(write_end) > 0
            assert process.wait(READY_TIMEOUT + EXIT_BOUND) == code
            if code == 0:
                assert target.stat().st_size > 0
                assert "total" in (stack.root / "stdout").read_text()  # the summary table, on stdout
            else:
                assert not target.exists()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
