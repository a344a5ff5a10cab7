"""Resource limits under what a run needs, as `ulimit` or a container runtime sets them (started through `prlimit`:
a `preexec_fn` forks this test process, whose fake ConductorOne runs gRPC, and gRPC's fork handlers aborted the
child).

Before: an open-file limit of 20 failed syncs as "cannot use the working file … SQLITE_CANTOPEN" (a path, not the
limit), 16 failed the start as "…/METADATA: Too many open files", 12 aborted the daemon inside gRPC (exit -6, one
abseil line); an address-space limit (`ulimit -v`) of 400 MiB aborted the daemon at start without a word of its own,
600-800 MiB failed every sync as "internal error (MemoryError)" while the daemon stayed up. Now the soft open-file limit
is raised to the hard one, as every Go program does (so the Go connector runs so), and a limit too low even so is
refused at start in one line naming it and how to raise it (exit 2), before any request. A one-shot sync loads no gRPC
and syncs in a small address space: only service mode is held to the address-space floor."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from connector.daemon.proclimits import MIN_ONE_SHOT_OPEN_FILES, MIN_OPEN_FILES, MIN_SERVICE_ADDRESS_SPACE
from tests.daemon.cli import last_line
from tests.e2e.harness import (
    ACT_TIMEOUT,
    READY_TIMEOUT,
    Stack,
    assert_success,
    daemon_command,
    only_finish,
    wait_for,
)
from tests.fakes.tasks import grant_task, kind_task
from tests.independent.procenv.rig import one_shot_env, service_env, start_logged
from tests.programs import need_program

pytestmark = pytest.mark.slow

MiB = 1 << 20


def limited(*limits: str) -> list[str]:
    return [need_program("prlimit", "util-linux"), *limits, "--"]


def run(stack: Stack, command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, env=env, cwd=stack.root, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
    )


def open_files_said(limit: int, needed: int, mode: str) -> str:
    return (
        f"baton-datadog: the open-file limit is {limit} (RLIMIT_NOFILE: `ulimit -n`, a container runtime's nofile), "
        f"below the {needed} {'service mode' if mode == 'service' else 'a one-shot run'} needs: raise it "
        "(`ulimit -n 1024`)"
    )


@pytest.mark.parametrize(
    ("mode", "limit", "needed"), [("one-shot", 24, MIN_ONE_SHOT_OPEN_FILES), ("service", 40, MIN_OPEN_FILES)]
)
def test_an_open_file_limit_too_low_is_refused_at_start_naming_it(
    stack: Stack, mode: str, limit: int, needed: int
) -> None:
    target = stack.root / "sync.c1z"
    env = one_shot_env(stack) if mode == "one-shot" else service_env(stack)
    args = ["--file", str(target)] if mode == "one-shot" else []
    done = run(stack, [*limited(f"--nofile={limit}:{limit}"), *daemon_command(), *args], env)
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.strip() == open_files_said(limit, needed, mode)  # the one line, before the log starts
    assert done.stdout == ""
    assert stack.dd.requests() == []
    assert not target.exists()
    assert stack.c1.recorded().finish_tasks == {}


def test_a_low_soft_open_file_limit_is_raised_to_the_hard_one_and_the_daemon_serves(stack: Stack) -> None:
    c1, org = stack.c1, stack.dd.org
    process, log = start_logged(stack, [*limited("--nofile=40:4096"), *daemon_command()], service_env(stack))
    try:
        limits = Path(f"/proc/{process.pid}/limits")

        def open_files_limit() -> list[str] | None:
            assert process.poll() is None, log.read_text()[-2000:]
            line = next(line for line in limits.read_text().splitlines() if line.startswith("Max open files"))
            fields = line.split()[3:5]
            # prlimit sets it, then execs the connector, which raises it as it starts.
            return fields if fields == ["4096", "4096"] else None

        wait_for(open_files_limit, timeout=READY_TIMEOUT, what="the soft open-file limit raised")
        role = next(r for r in org.roles.values() if not r.managed)
        user = next(u for u in org.users.values() if u.status == "Active" and role.id not in u.role_ids)
        tasks = [kind_task("sync_full"), kind_task("sync_full"), grant_task("role", role.id, "member", user.id)]
        for task in tasks:
            c1.enqueue(task)

        def reported() -> bool:
            assert process.poll() is None, log.read_text()[-2000:]
            return all(c1.recorded().finish_tasks.get(task.id) for task in tasks)

        wait_for(reported, timeout=ACT_TIMEOUT, what="every task reported", context=lambda: log.read_text()[-2000:])
        for task in tasks:
            assert_success(only_finish(c1.recorded(), task.id))
    finally:
        process.terminate()
        assert process.wait(30) == 0


def test_an_address_space_too_small_for_the_daemon_is_refused_at_start_naming_it(stack: Stack) -> None:
    limit = 512 * MiB
    done = run(stack, [*limited(f"--as={limit}:{limit}"), *daemon_command()], service_env(stack))
    assert done.returncode == 2, done.stderr[-2000:]
    assert last_line(done.stderr) == (
        "baton-datadog: the address-space limit is 512 MiB (RLIMIT_AS: `ulimit -v`), below the "
        f"{MIN_SERVICE_ADDRESS_SPACE // MiB} MiB service mode needs (gRPC's threads reserve most of it; little of it "
        "is used): raise it (`ulimit -v unlimited`); memory is better bounded by the container's limit"
    )
    assert stack.dd.requests() == []
    assert stack.c1.recorded().finish_tasks == {}


def test_a_one_shot_sync_is_not_held_to_the_daemons_address_space(stack: Stack) -> None:
    limit = 512 * MiB
    target = stack.root / "sync.c1z"
    done = run(
        stack, [*limited(f"--as={limit}:{limit}"), *daemon_command(), "--file", str(target)], one_shot_env(stack)
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert target.stat().st_size > 0


@pytest.mark.parametrize("limit", [40, 56])
def test_a_one_shot_run_is_not_held_to_the_daemons_open_file_floor(stack: Stack, limit: int) -> None:
    """Review r1404: one-shot syncs and changes that worked at 40 to 56 files were refused by the daemon's floor."""
    target = stack.root / "sync.c1z"
    done = run(
        stack, [*limited(f"--nofile={limit}:{limit}"), *daemon_command(), "--file", str(target)], one_shot_env(stack)
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert target.stat().st_size > 0
    email = f"procenv-files-{limit}@example.com"
    args = ["-p", "--create-account-email", email, "--create-account-name", "Files"]
    done = run(stack, [*limited(f"--nofile={limit}:{limit}"), *daemon_command(), *args], one_shot_env(stack))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "created account user:" in done.stdout
