"""Commands: every flag a command's own `--help` lists (`inspect`'s, `config`'s `--json`) is named in README.md, where
its table of commands is, as every setting is (test_settings_named.py); and every command `baton-datadog --help` lists
has its row there. `inspect --sync-id` (show a sync run other than the one picked), `--entitlements` and
`--output-format` were in `inspect --help` and in the completion scripts, and in no document."""

from __future__ import annotations

import argparse
import re

from connector.cli import COMMANDS
from connector.daemon import inspect, settings
from tests.independent.docs.operator_docs import text, unwrapped

# What every command takes and the README says once for all: `--help and --version work before or after a command`.
EVERYWHERE = {"-h", "--help", "-v", "--version"}
# The commands that take flags beyond those (`help` and `completion` take a word, and `--help` alone).
WITH_FLAGS = ("inspect", "config", "capabilities")


def _own_flags(command: str) -> set[str]:
    """The flags a command's parser adds to the settings' (inspect reads a file, not settings: all of its own)."""
    if command == "inspect":
        parser = argparse.ArgumentParser(add_help=True)
        inspect.add_arguments(parser)
        return set(settings.known_flags(parser)) - EVERYWHERE
    return set(settings.known_flags(settings.build_parser(command))) - set(
        settings.known_flags(settings.build_parser(None))
    )


def test_the_pattern_reads_the_commands_flags() -> None:
    assert {"--grants", "--resources", "-o", "--file"} <= _own_flags("inspect")
    assert _own_flags("config") == {"--json"}
    assert set(WITH_FLAGS) <= set(COMMANDS)


def test_every_flag_of_a_commands_own_help_is_named_in_the_readme() -> None:
    readme = unwrapped("README.md")
    missing = {
        (command, name)
        for command in WITH_FLAGS
        for name in _own_flags(command)
        if not re.search(rf"`[^`]*(?<![\w-]){re.escape(name)}(?![\w-])[^`]*`", readme)
    }
    assert missing == set()


def test_every_command_has_its_row_in_the_readme() -> None:
    rows = re.findall(r"^\| `baton-datadog (\w+)", text("README.md"), flags=re.M)
    assert set(COMMANDS) <= set(rows)
