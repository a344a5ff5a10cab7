"""A host name lookup that never answers, with the process stopped by SIGTERM while it stalls or left to fail.

The lookup runs in a thread, which nothing can cancel: the request's connect timeout ends the wait for it, and the
run goes on, but the thread stays in the call. When that thread was one of the loop's default executor, the loop's
close waited for it, and the interpreter's exit again: the run's closing line was never printed and the process never
ended, whatever the signal (only SIGKILL did). Lookups now run on daemon threads of their own (`connector/baton/lookup.py`),
and the exit waits a bounded time for any other worker thread (`connector/daemon/exiting.py`). The bound asserted is generous (twice the documented one, or
more); a process that outlives it is a hang, killed and failed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon.cli import ROOT, clean_env
from tests.e2e.harness import wait_for
from tests.fakes.c1.creds import generate_client_credentials
from tests.independent.hangs.stalled_lookup import MARK
from tests.independent.operator.conftest import KEYS, assert_quiet

STALLED_HOST = "api.stalled-resolver.example"


class Run:
    def __init__(self, tmp_path: Path, args: list[str], env: dict[str, str]) -> None:
        self.stderr_path = tmp_path / "stderr"
        self.stdout_path = tmp_path / "stdout"
        with self.stderr_path.open("wb") as err, self.stdout_path.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.independent.hangs.stalled_lookup", *args],
                env=clean_env({**KEYS, "PYTHONPATH": str(ROOT), **env}),
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_stalled(self) -> None:
        wait_for(lambda: MARK in self.stderr or self.process.poll() is not None, timeout=60, what="a stalled lookup")
        assert MARK in self.stderr, self.stderr[-2000:]

    def exit_code_within(self, seconds: float) -> int:
        try:
            return self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the process hung: still running {seconds} s on\n{self.stderr[-3000:]}")

    def closing_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if line.startswith("baton-datadog: ")]
        assert lines, self.stderr[-2000:]
        return lines[-1]


def _one_shot(tmp_path: Path) -> Run:
    args = ["--base-url", f"https://{STALLED_HOST}", "--http-timeout-seconds", "1", "--file", str(tmp_path / "s.c1z")]
    return Run(tmp_path, args, {})


def test_sigterm_while_a_datadog_lookup_stalls_ends_a_one_shot_sync_with_143_and_its_words(tmp_path: Path) -> None:
    run = _one_shot(tmp_path)
    run.wait_stalled()
    run.process.send_signal(signal.SIGTERM)
    assert run.exit_code_within(20) == 128 + signal.SIGTERM
    assert run.closing_line() == "baton-datadog: interrupted by SIGTERM before the sync started; nothing was written"
    assert not (tmp_path / "s.c1z").exists()
    assert_quiet(run.stderr)


@pytest.mark.slow  # the run's five connect timeouts and their backoff: ~13 s
def test_a_lookup_that_never_answers_fails_the_run_naming_the_host_and_the_process_exits(tmp_path: Path) -> None:
    run = _one_shot(tmp_path)
    # Five attempts, each cut by its connect timeout (10 s at most with a 1 s HTTP timeout), and their backoff.
    assert run.exit_code_within(120) == 1
    assert run.closing_line() == (
        f"baton-datadog: Datadog unavailable: GET /api/v1/validate -> cannot reach {STALLED_HOST}: DNS lookup timed out"
    )
    assert_quiet(run.stderr)


def test_sigterm_while_every_lookup_stalls_ends_the_service_with_0_within_the_grace(tmp_path: Path) -> None:
    # The Datadog key check and ConductorOne's token endpoint both wait on a lookup that never answers.
    creds = generate_client_credentials("tenant.stalled-resolver.example")
    run = Run(
        tmp_path,
        ["--base-url", f"https://{STALLED_HOST}"],
        {
            "BATON_CLIENT_ID": creds.client_id,
            "BATON_CLIENT_SECRET": creds.client_secret,
            "BATON_SHUTDOWN_GRACE_SECONDS": "2",
            "BATON_HEALTH_CHECK_PORT": "0",
            "BATON_C1Z_TEMP_DIR": str(tmp_path),
        },
    )
    run.wait_stalled()
    run.process.send_signal(signal.SIGTERM)
    # The drain ends within 5 s of the grace (docs/service-mode.md, the report table's stop row): twice that.
    assert run.exit_code_within(2 * (2 + 5)) == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert creds.client_secret not in run.stderr
    assert_quiet(run.stderr)
