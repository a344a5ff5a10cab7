"""`--`, the end of the flags, as a baton-sdk (pflag/cobra) user writes it: a wrapper's `exec baton-datadog "$@" --`,
or `completion -- bash`. A `--` with nothing after it is no argument; what follows one is positional."""

from __future__ import annotations

import pytest

from tests.daemon.cli import last_line, run_cli_in_process
from tests.independent.firsthour.conftest import KEYS, SECRET, assert_quiet


@pytest.mark.parametrize(
    "args",
    [("config", "--"), ("--", "config"), ("capabilities", "--"), ("--site", "datadoghq.eu", "config", "--")],
    ids=["config-then-end", "end-then-config", "capabilities-then-end", "flags-config-end"],
)
def test_a_trailing_end_of_flags_is_no_argument(args: tuple[str, ...]) -> None:
    # It was refused, exit 2, as "0 unexpected argument(s)": a count of nothing.
    done = run_cli_in_process(*args, env=KEYS)
    assert done.returncode == 0, done.stderr
    assert "unexpected argument" not in done.stderr
    assert done.stdout.strip()
    assert_quiet(done.stdout, done.stderr)


def test_a_run_with_a_trailing_end_of_flags_is_the_run_without_it() -> None:
    # No keys: the run is refused for them, as it is without the `--`, not for the `--`.
    plain, ended = run_cli_in_process(), run_cli_in_process("--")
    assert ended.returncode == plain.returncode == 2
    assert last_line(ended.stderr) == last_line(plain.stderr)
    assert "missing required settings --api-key" in last_line(ended.stderr)


@pytest.mark.parametrize("args", [("completion", "--", "bash"), ("completion", "bash", "--")])
def test_completion_takes_its_shell_on_either_side_of_the_end_of_flags(args: tuple[str, ...]) -> None:
    # cobra's `completion -- bash` works; here it was "give one shell", exit 2.
    done = run_cli_in_process(*args)
    assert done.returncode == 0, done.stderr
    assert done.stdout == run_cli_in_process("completion", "bash").stdout


@pytest.mark.parametrize(
    "args",
    [("config", "--", "--site", "datadoghq.eu"), ("config", "--", f"--client-secret={SECRET}"), ("--", SECRET)],
)
def test_what_follows_the_end_of_flags_is_still_counted_not_shown(args: tuple[str, ...]) -> None:
    done = run_cli_in_process(*args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert_quiet(done.stdout, done.stderr)
