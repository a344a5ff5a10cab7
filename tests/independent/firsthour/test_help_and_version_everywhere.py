"""README: "`--help` and `--version` work before or after a command". Walked over every command and place."""

from __future__ import annotations

import pytest

from connector.daemon.version import package_version
from tests.daemon.cli import run_cli_in_process

COMMANDS = [
    ("config",),
    ("capabilities",),
    ("inspect",),
    ("completion",),
    ("completion", "bash"),
    ("completion", "fish"),
]


@pytest.mark.parametrize("version", ["--version", "-v"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_the_version_after_any_command(command: tuple[str, ...], version: str) -> None:
    # `completion --version` and `completion bash -v` were "give one shell", exit 2.
    done = run_cli_in_process(*command, version)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"baton-datadog {package_version()}\n"


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_the_version_before_any_command(command: tuple[str, ...]) -> None:
    done = run_cli_in_process("--version", *command)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"baton-datadog {package_version()}\n"


@pytest.mark.parametrize("helped", ["--help", "-h"])
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_commands_help_after_it_wherever_it_stands(command: tuple[str, ...], helped: str) -> None:
    done = run_cli_in_process(*command, helped)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: baton-datadog {command[0]}"), done.stdout[:200]
    assert done.stdout == run_cli_in_process("help", command[0]).stdout


def test_completions_help_stands_before_its_shell_too() -> None:
    done = run_cli_in_process("completion", "-h", "zsh")
    assert done.returncode == 0
    assert done.stdout.startswith("usage: baton-datadog completion SHELL")
