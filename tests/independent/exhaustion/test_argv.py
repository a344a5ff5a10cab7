"""The command line's length: each argument is parsed by argparse, whose time grows with the square of the flags it
is given (its positional scan runs over every option index for every option), so 100,000 arguments held a CPU for
minutes before the usage error. They are refused by count, before any parser reads them, and none is shown: one may
be a key that lost its flag."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

import pytest

from connector import cli
from tests.daemon.cli import KEYS

CANARY = "canary-key-3f9c1d7e5b2a4c6e8d0f"


def _no_parsing(*_: Any, **__: Any) -> NoReturn:
    raise AssertionError("an argument list over the bound reached a parser")


@pytest.mark.parametrize(
    "args",
    [
        [f"--x{i}" for i in range(100_000)],  # unknown flags: the quadratic case
        ["--log-level", "info"] * 50_000,  # a known flag, repeated
        ["config", *[f"--x{i}" for i in range(100_000)]],  # a command first: its own parser is spared too
        ["inspect", *(["--file", CANARY] * 50_000)],
    ],
    ids=["unknown-flags", "repeated-flag", "config", "inspect"],
)
def test_a_hundred_thousand_arguments_are_refused_by_count_unparsed_and_unquoted(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", _no_parsing)
    args = [*args, "--api-key", CANARY]
    assert cli.main(args) == cli.EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"baton-datadog: {len(args):,} arguments given; at most {cli.MAX_ARGUMENTS:,} are taken (")
    assert CANARY not in err


def test_the_largest_argument_list_taken_is_still_parsed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["config", "--json", *(["--log-level", "debug"] * ((cli.MAX_ARGUMENTS - 2) // 2))]
    assert len(args) == cli.MAX_ARGUMENTS
    _keys(monkeypatch)
    assert cli.main(args) == 0
    out, _ = capsys.readouterr()
    assert "debug" in out


def test_every_flag_with_its_value_twice_over_is_within_the_bound() -> None:
    from connector.daemon.settings import build_parser

    flags = [option for action in build_parser()._actions for option in action.option_strings]
    assert 2 * 2 * len(flags) < cli.MAX_ARGUMENTS


def test_five_hundred_repeated_sync_resources_are_taken(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--sync-resources` repeats (as pflag's does in the Go SDK): a bound of 1,000 refused 501 targets given so."""
    targets = [f"role:00000000-0000-0000-0000-{n:012d}" for n in range(501)]
    args = ["config", "--json", *(arg for target in targets for arg in ("--sync-resources", target))]
    _keys(monkeypatch)
    assert cli.main(args) == 0
    out, _ = capsys.readouterr()
    assert targets[-1] in out


def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Both keys: without them `config` warns that they are missing, as the run refuses them."""
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
