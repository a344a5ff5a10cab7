"""A SIGTERM or SIGINT that arrives once a run is over, while the process exits, leaves its exit code alone.

The interpreter's teardown after a one-shot sync takes tens of milliseconds, and a signal there (a supervisor's
deadline, a Ctrl-C as the summary appears) killed the process (-15, -2) after it had saved the sync and printed its
summary. The moment is made exact here, not timed: a hook the interpreter runs at exit sends the signal.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.daemon.cli import ROOT, clean_env

pytestmark = pytest.mark.slow

_AT_EXIT = """
import atexit, os, signal, sys
atexit.register(os.kill, os.getpid(), signal.{sig})  # registered first: it runs after the command's own
from connector.cli import run
sys.argv = ["baton-datadog", "capabilities"]
raise SystemExit(run())
"""

# A teardown that never ends (a library's exit callback flushing to a stalled pipe), registered after the command's
# module is imported and before its run ends, as the libraries the run imports register theirs (logging's): a second
# signal must still end the process.
_STUCK_AT_EXIT = """
import atexit, sys, time
from connector.cli import run
atexit.register(time.sleep, 120)
sys.argv = ["baton-datadog", "capabilities"]
code = run()
print("run returned", flush=True)
raise SystemExit(code)
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


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_still_ends_a_process_stuck_while_it_exits(sig: signal.Signals) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _STUCK_AT_EXIT],
        env=clean_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("run returned"):
                break
        # Only the process's own output tells when its exit callbacks run. A signal is sent again every 2 s until the
        # process ends: on a loaded host two sent close together may reach its handler as one (the first, ignored).
        # Ignored for good, it would sleep out its 120 s and exit 0.
        for _ in range(25):
            child.send_signal(sig)
            try:
                child.wait(timeout=2)
                break
            except subprocess.TimeoutExpired:
                continue
        assert child.wait(timeout=60) == -sig, "stuck until the sleep ended (or a signal was ignored for good)"


def test_main_called_by_a_program_leaves_its_signal_handlers_as_they_were() -> None:
    # Only the entry point (`run`) guards the process's exit: a caller's Ctrl-C after `main` returned was swallowed.
    code = (
        "import contextlib, io, signal, sys\n"
        "from connector import cli\n"
        "before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))\n"
        "sys.argv = ['baton-datadog', 'capabilities']\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert cli.main() == 0\n"
        "assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before\n"
        "try:\n"
        "    signal.raise_signal(signal.SIGINT)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=clean_env(), cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "interrupted"), done.stderr
