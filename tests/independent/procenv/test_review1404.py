"""What review r1404 proved against this suite's fixes.

- A stop signal sent while the parent kept it blocked is pending at exec, and delivered the moment the connector
  unblocks it: that must come with the start's handlers in place, ending the run as a signal during its start does
  (143 for SIGTERM, 130 for SIGINT, one line), not silently (-15) or in a `KeyboardInterrupt` traceback.
- The CLI called in another program's own process (as the suite calls it) puts back that program's umask and signal
  mask and its open-file limit when it returns, as it puts back its handlers.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

import pytest

from connector import cli
from tests.daemon.cli import ROOT, clean_env
from tests.e2e.harness import daemon_command


def started_with_pending(name: str) -> list[str]:
    """The connector exec'd by a parent that blocked `name` and was sent it before the exec."""
    code = (
        "import os, signal, sys; "
        f"signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.{name}}}); "
        f"os.kill(os.getpid(), signal.{name}); "
        "os.execvp(sys.argv[1], sys.argv[1:])"
    )
    return [sys.executable, "-c", code, *daemon_command()]


@pytest.mark.parametrize(("name", "code"), [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_stop_signal_pending_at_exec_ends_the_start_in_its_own_words(name: str, code: int) -> None:
    done = subprocess.run(
        [*started_with_pending(name), "capabilities"],
        env=clean_env({}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, (done.returncode, done.stderr[-800:])
    assert done.stderr.strip() == f"baton-datadog: interrupted by {name} while starting; nothing was written"
    assert done.stdout == ""


def _version() -> None:
    with pytest.raises(SystemExit):
        cli.main(["--version"])


def test_the_cli_in_a_callers_process_puts_its_signal_mask_back() -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        _version()
        after = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)
    assert signal.SIGINT in after


def test_the_cli_in_a_callers_process_puts_its_umask_back() -> None:
    before = os.umask(0o277)
    try:
        _version()
        after = os.umask(before)
    finally:
        os.umask(before)
    assert after == 0o277


def test_the_cli_in_a_callers_process_puts_its_open_file_limit_back() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(soft, hard, 512)
    if lowered == hard:
        pytest.skip("the hard open-file limit leaves no soft limit below it to put back")
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    try:
        _version()
        after = resource.getrlimit(resource.RLIMIT_NOFILE)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert after == (lowered, hard)
