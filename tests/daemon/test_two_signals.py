"""A terminal's Ctrl-C reaches every process of its group, and a SIGTERM often follows it (`make demo` stopping its
daemon, a supervisor): the second signal, while the first one's stop is handled, is no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from connector import cli
from tests.fakes.c1.creds import generate_client_credentials


@pytest.mark.parametrize(
    ("first", "code", "said"), [(KeyboardInterrupt, 130, "SIGINT"), (cli._Terminated, 143, "SIGTERM")]
)
def test_a_signal_while_a_stop_at_start_is_handled_leaves_its_one_line(
    first: type[BaseException],
    code: int,
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The daemon's log under `make demo` interrupted while it started: "interrupted by SIGINT while starting", then a
    # `_Terminated` traceback from the demo's SIGTERM, exit 1.
    def stopped(args: list[str]) -> int:
        raise first

    real = cli._interrupted

    def and_then_sigterm(sig: signal.Signals) -> int:
        done = real(sig)
        os.kill(os.getpid(), signal.SIGTERM)  # as main returns: the moment it came in the daemon's log
        return done

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    monkeypatch.setattr(cli, "_dispatch", stopped)
    monkeypatch.setattr(cli, "_interrupted", and_then_sigterm)
    assert cli.main([]) == code
    assert capsys.readouterr().err == f"baton-datadog: interrupted by {said} while starting; nothing was written\n"
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_the_entry_points_exit_handlers_are_in_place_as_main_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    # `run` installed them once `main` had returned: a SIGTERM in between (the demo's, after a Ctrl-C) killed the
    # process that had just said "interrupted by SIGINT", -15.
    def stopped(args: list[str]) -> int:
        raise KeyboardInterrupt

    def exiting(signum: int, frame: object) -> None:
        pass

    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    monkeypatch.setattr(cli, "_dispatch", stopped)
    try:
        assert cli.main([], afterwards=exiting) == 130
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == (exiting, exiting)
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


@pytest.mark.slow
def test_a_stop_whose_handling_hangs_on_a_stuck_thread_is_still_ended_by_more_signals(tmp_path: Path) -> None:
    """The service's start reads the CA directory on a thread; a hashed CA file that never reads (a FIFO) holds it.
    The first SIGTERM's stop then waits for that thread. The signals after it were ignored for good: five SIGTERMs
    later the process still ran, and only SIGKILL ended it. The second is let go, the third ends it."""
    creds = generate_client_credentials("tenant.example.com")
    os.mkfifo(tmp_path / "deadbeef.0")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SSL_CERT_FILE", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH") and not key.startswith("BATON_")
    }
    env.update(
        SSL_CERT_DIR=str(tmp_path),
        BATON_CLIENT_ID=creds.client_id,
        BATON_CLIENT_SECRET=creds.client_secret,
        BATON_API_KEY="k" * 32,
        BATON_APP_KEY="a" * 40,
        BATON_C1Z_TEMP_DIR=str(tmp_path),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "connector"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        assert process.stderr is not None
        while b'"starting"' not in process.stderr.readline():  # the settings are read; the start is under way
            assert time.monotonic() < deadline
        time.sleep(1)  # into the CA read
        for _ in range(3):
            process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
        process.wait(timeout=60)  # a bound on a hang
    finally:
        process.kill()
        process.wait()
    # Ended by the third signal (-SIGTERM), or by the first stop itself with SIGTERM's code: the exit waits at most
    # `exiting.THREAD_WAIT` for the stuck thread, so under load that stop can finish between the signals.
    assert process.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM)


def test_a_signal_let_go_puts_both_defaults_back() -> None:
    """SIGTERM, then SIGINT, then SIGTERM to a stop stuck on a thread: the SIGINT was let go too, and a fourth signal
    was needed. Whichever comes after the one let go ends the process."""
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    try:
        cli._stop_underway()
        assert signal.getsignal(signal.SIGINT) is signal.getsignal(signal.SIGTERM) is cli._let_go_once
        cli._let_go_once(signal.SIGTERM, None)
        assert signal.getsignal(signal.SIGINT) is signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        # A finished run's exit is another matter: a Ctrl-C and a SIGTERM arriving together keep its exit code, so the
        # one let go there puts back only its own default.
        signal.signal(signal.SIGINT, cli._exiting)
        signal.signal(signal.SIGTERM, cli._exiting)
        cli._exiting(signal.SIGINT, None)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_DFL
        assert signal.getsignal(signal.SIGTERM) is cli._exiting
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])
