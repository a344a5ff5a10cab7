"""A SIGTERM or SIGINT that arrives once a run is over, while the process exits, leaves its exit code alone.

The interpreter's teardown after a one-shot sync takes tens of milliseconds, and a signal there (a supervisor's
deadline, a Ctrl-C as the summary appears) killed the process (-15, -2) after it had saved the sync and printed its
summary. The moment is made exact here, not timed: a hook the interpreter runs at exit sends the signal.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.daemon.cli import ROOT, clean_env

pytestmark = pytest.mark.slow

_AT_EXIT = """
import atexit, os, signal, sys
atexit.register(os.kill, os.getpid(), signal.{sig})  # registered first: it runs after the command's own
from connector.cli import main
sys.argv = ["baton-datadog", "capabilities"]
raise SystemExit(main())
"""


def _run(sig: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _AT_EXIT.format(sig=sig)],
        env=clean_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_while_the_process_exits_leaves_the_exit_code(sig: str) -> None:
    done = _run(sig)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["capabilities"]["resourceTypeCapabilities"], "the command's output is whole"
    assert "Traceback" not in done.stderr
    assert "KeyboardInterrupt" not in done.stderr
