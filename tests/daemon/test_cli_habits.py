"""Flags and variables read as baton-sdk (cobra/pflag, viper) reads them, where a baton user's habit differed."""

from __future__ import annotations

import json
import os

import pytest

from connector.daemon.settings import ENV_PREFIX, first_positional
from tests.daemon.cli import run_cli


@pytest.fixture(autouse=True)
def no_baton_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("argv", "at"),
    [
        (["-pf", "x.c1z"], None),  # pflag: -p, then -f takes the next argument
        (["-pf", "x.c1z", "config"], 2),
        (["-pfx.c1z", "config"], 1),  # the value inside the argument
        (["-p", "config"], 1),
    ],
)
def test_combined_short_flags_end_with_the_one_that_takes_the_next_argument(argv: list[str], at: int | None) -> None:
    assert first_positional(argv) == at


@pytest.mark.parametrize("args", [("-pf", "x.c1z", "config"), ("-pfx.c1z", "config"), ("config", "-pf", "x.c1z")])
def test_combined_short_flags_before_the_command_are_read_as_pflag_reads_them(args: tuple[str, ...]) -> None:
    # `-pf x.c1z config` was "unknown flag -pf": x.c1z was taken for a command, not for -f's value.
    done = run_cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["settings"]
    assert (rows["provisioning"]["value"], rows["file"]["value"]) == (True, "x.c1z")
