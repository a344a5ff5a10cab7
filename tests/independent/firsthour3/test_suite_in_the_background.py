"""`make test &` from a script: the shell, without job control, starts it with SIGINT ignored, and the tests of what
Ctrl-C does failed (the fresh-clone run of attack 904: `test_a_signal_while_starting_is_an_orderly_stop[SIGINT]`
waited 30 s for a SIGINT that never came, then `make test-slow`'s `inspect` and `main` tests). tests/conftest.py
puts the default back; this runs one of those tests as such a script would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
STARTED_IGNORING_SIGINT = (
    "import os, signal, sys\n"
    "signal.signal(signal.SIGINT, signal.SIG_IGN)  # what `cmd &` gets from a non-interactive shell\n"
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])\n"
)


def test_a_suite_started_with_sigint_ignored_still_tests_sigint() -> None:
    test = "tests/daemon/test_cli.py::test_a_signal_while_starting_is_an_orderly_stop"
    done = subprocess.run(
        [sys.executable, "-c", STARTED_IGNORING_SIGINT, "-m", "pytest", "-q", "-p", "no:cacheprovider", test],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout
