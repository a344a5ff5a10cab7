"""A umask that takes the owner's own bits away (`umask 0777` in a cron line or a hardened login shell, 0177): every
directory and file the run made for itself (the c1z's staging directory beside `--file`, the working directory, the
SQLite file) came out unusable by the process itself. A one-shot sync failed with "<dir>/.baton-c1z-new-…: Permission
denied", leaving that mode-000 directory beside `--file`, or with "cannot use the working file … SQLITE_CANTOPEN"; run as
root the sync went through and wrote a c1z of mode 000. Now the owner's bits are given back at start (the group's and
others' stay masked), and a warning names the umask. Under any umask, 0000 too, the c1z is the owner's only: it is
what ConductorOne is sent, the whole picture of who may do what in Datadog.

Root passes every permission check: there the run is made to honour them as any other user would, by dropping the
capabilities that override them (`setpriv`), so the old failure shows as it does in a pod running as a plain user."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.e2e.harness import ACT_TIMEOUT, Stack, assert_success, daemon_command, only_finish, wait_for
from tests.fakes.tasks import kind_task
from tests.independent.procenv.rig import start_logged
from tests.programs import need_program

pytestmark = pytest.mark.slow


def one_shot_env(stack: Stack, temp_dir: Path) -> dict[str, str]:
    env = stack.env({"BATON_CLIENT_ID": None, "BATON_CLIENT_SECRET": None, "TMPDIR": str(temp_dir)})
    return {k: v for k, v in env.items() if not k.startswith(("BATON_C1", "BATON_HEALTH"))}


def as_a_plain_user() -> list[str]:
    """A command prefix under which root's permission checks apply to it as to any user's."""
    if os.geteuid() != 0:
        return []
    setpriv = need_program("setpriv", "util-linux")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def under_umask(mask: int, *command: str) -> list[str]:
    """`command` started under `mask` (by a shell: a `preexec_fn` forks a test process that runs gRPC's fake
    ConductorOne, and gRPC's fork handlers aborted the child), as a plain user would run it."""
    return ["sh", "-c", f'umask {mask:04o} && exec "$@"', "sh", *as_a_plain_user(), *command]


def run_one_shot(stack: Stack, mask: int) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = stack.root / "out"
    out.mkdir(mode=0o755)
    temp = stack.root / "tmp-dir"
    temp.mkdir(mode=0o755)
    done = subprocess.run(
        under_umask(mask, *daemon_command(), "--file", str(out / "sync.c1z")),
        env=one_shot_env(stack, temp),
        cwd=out,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, out


def warnings(stderr: str) -> list[str]:
    found = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record["level"] == "warning":
                found.append(record["event"])
    return found


@pytest.mark.parametrize("mask", [0o777, 0o177, 0o377], ids=oct)
def test_a_umask_taking_the_owners_bits_still_syncs_into_a_private_file_and_says_so(stack: Stack, mask: int) -> None:
    done, out = run_one_shot(stack, mask)
    assert done.returncode == 0, done.stderr[-2000:]
    # Nothing left beside it: the staging directory of mode 000 was.
    assert sorted(path.name for path in out.iterdir()) == ["sync.c1z"]
    assert stat.S_IMODE((out / "sync.c1z").stat().st_mode) == 0o600
    kept = mask & 0o077
    assert f"umask {mask:04o} takes this process's own permissions away from the files it makes; running with " + (
        f"{kept:04o}"
    ) in "\n".join(warnings(done.stderr))
    # The file reads back (`inspect`, as the same plain user).
    shown = subprocess.run(
        under_umask(mask, *daemon_command(), "inspect", str(out / "sync.c1z")),
        env=one_shot_env(stack, stack.root / "tmp-dir"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert "TOTAL" in shown.stdout


@pytest.mark.parametrize("mask", [0o000, 0o022, 0o002], ids=oct)
def test_under_a_permissive_umask_the_c1z_is_the_owners_only_and_nothing_is_said(stack: Stack, mask: int) -> None:
    done, out = run_one_shot(stack, mask)
    assert done.returncode == 0, done.stderr[-2000:]
    assert stat.S_IMODE((out / "sync.c1z").stat().st_mode) == 0o600
    assert not [warning for warning in warnings(done.stderr) if "umask" in warning]


def test_the_daemon_under_umask_0777_syncs_and_uploads(stack: Stack) -> None:
    """Service mode: the sync's working directory, under BATON_C1Z_TEMP_DIR, was mode 000 too, and every sync task
    failed while the pod stayed ready."""
    work = stack.root / "work"
    work.mkdir()
    (stack.root / "tmp").mkdir(exist_ok=True)
    env = stack.env({"BATON_C1Z_TEMP_DIR": str(work), "BATON_SHUTDOWN_GRACE_SECONDS": "2"})
    process, log = start_logged(stack, under_umask(0o777, *daemon_command()), env)
    try:
        sync = kind_task("sync_full")
        stack.c1.enqueue(sync)

        def reported() -> bool:
            assert process.poll() is None, log.read_text()[-2000:]
            return bool(stack.c1.recorded().finish_tasks.get(sync.id))

        wait_for(reported, timeout=ACT_TIMEOUT, what="the sync reported", context=lambda: log.read_text()[-2000:])
        assert_success(only_finish(stack.c1.recorded(), sync.id))
        assert "umask 0777 takes" in log.read_text()
    finally:
        process.terminate()
        process.wait(30)
    assert list(work.iterdir()) == []  # its working directory removed after it
