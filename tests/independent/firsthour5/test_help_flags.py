"""`help` names a flag it does not know, as every command does (and cobra's `help` command of baton-sdk connectors).

`baton-datadog help -x` and `help --bogus inspect` printed the help and exited 0: the one command that passed a
mistyped flag over without a word. The flags `--help` lists still stand there (`help --log-level debug inspect`,
`help -p`), as do inspect's (`help inspect --json`), and after `--` no word is a flag.
"""

from __future__ import annotations

import pytest

from tests.daemon.cli import run_cli_in_process
from tests.independent.firsthour.conftest import API_KEY, assert_quiet


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["-x"], "baton-datadog: help: unknown flag -x; see --help for the flags\n"),
        (["--insp"], "baton-datadog: help: unknown flag --insp; see --help for the flags\n"),
        (
            ["inspect", "--jsn"],
            "baton-datadog: help: unknown flag --jsn; did you mean --json?; see --help for the flags\n",
        ),
        (
            [f"--api-kye={API_KEY}"],
            "baton-datadog: help: unknown flag --api-kye; did you mean --api-key?; see --help for the flags\n",
        ),
    ],
    ids=["short", "long", "after-the-topic", "misspelt-with-a-key"],
)
def test_an_unknown_flag_is_named_and_no_help_printed(args: list[str], line: str) -> None:
    done = run_cli_in_process("help", *args)
    assert_quiet(done.stdout, done.stderr)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line)


@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (["--log-level", "debug", "inspect"], "usage: baton-datadog inspect "),
        (["inspect", "--json"], "usage: baton-datadog inspect "),
        (["-p"], "usage: baton-datadog [COMMAND] [FLAGS]"),
        (["--help"], "usage: baton-datadog [COMMAND] [FLAGS]"),
        (["--"], "usage: baton-datadog [COMMAND] [FLAGS]"),
    ],
)
def test_the_flags_help_knows_still_stand_beside_it(args: list[str], usage: str) -> None:
    done = run_cli_in_process("help", *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(usage)
