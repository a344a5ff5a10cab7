"""The suite's one way to start the connector as a process a pod, cron or a shell would: its environment for each
mode, a daemon whose log goes to a file the test reads, and a one-shot run with its standard output redirected."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.e2e.harness import Stack, daemon_command


def one_shot_env(stack: Stack) -> dict[str, str]:
    (stack.root / "tmp").mkdir(exist_ok=True)
    env = stack.env({"BATON_CLIENT_ID": None, "BATON_CLIENT_SECRET": None, "BATON_HOST_ID": None})
    return {k: v for k, v in env.items() if not k.startswith(("BATON_C1", "BATON_HEALTH"))}


def service_env(stack: Stack, **extra: str) -> dict[str, str]:
    (stack.root / "tmp").mkdir(exist_ok=True)
    work = stack.root / "work"
    work.mkdir(exist_ok=True)
    settings = {"BATON_C1Z_TEMP_DIR": str(work), "BATON_PROVISIONING": "true", "BATON_SHUTDOWN_GRACE_SECONDS": "2"}
    return stack.env(settings | extra)


def start_logged(stack: Stack, command: Sequence[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    """The daemon started by `command`, its stderr in a file (returned beside it), no stdin or stdout."""
    log = stack.root / "daemon.stderr"
    with log.open("wb") as err:
        process = subprocess.Popen(
            list(command), env=env, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, cwd=stack.root
        )
    return process, log


OUTPUTS = {"closed": ">&-", "full": ">/dev/full"}
"""Standard output as a shell leaves it: closed, or a device that refuses every write."""


def one_shot_with_output(stack: Stack, output: str, args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """A one-shot run with its standard output `OUTPUTS[output]`."""
    return subprocess.run(
        ["sh", "-c", f'exec "$@" {OUTPUTS[output]}', "sh", *daemon_command(), *args],
        env=one_shot_env(stack),
        cwd=stack.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
