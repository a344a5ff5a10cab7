"""A terminal's Ctrl-C reaches every process of its group, and a SIGTERM often follows it (`make demo` stopping its
daemon, a supervisor): the second signal, while the first one's stop is handled, is no traceback."""

from __future__ import annotations

import os
import signal

import pytest

from connector import cli


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
