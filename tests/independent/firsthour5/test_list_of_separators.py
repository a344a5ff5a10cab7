"""A list setting given as separators alone is not set, as an empty value is (README: "An empty value ... means not
set: the next source or the default applies").

`BATON_SYNC_RESOURCES="$ROLE,$TEAM"` (or `--sync-resources "$ROLE,$TEAM"`) with both variables unset is ",": no entry.
It was taken as a given empty list, which won over the --config file's `sync-resources` without a word (`config` said
`[]`, source `env`), and the run synced the whole org in place of the file's targets. A value of whitespace alone
was already "not set" (`BATON_SITE=" "`); one of commas and whitespace alone is too, wherever it is given.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.daemon.cli import run_cli_in_process
from tests.independent.firsthour.conftest import KEYS, assert_quiet

FILE_TARGETS = ["role:r1", "team:t1"]


def _effective(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    config = tmp_path / "settings.yaml"
    config.write_text("sync-resources: [role:r1, team:t1]\nsync-resource-types: [role, team]\n")
    done = run_cli_in_process("config", "--json", "--config", str(config), *args, env={**KEYS, **(env or {})})
    assert_quiet(done.stdout, done.stderr)
    assert done.returncode == 0, done.stderr
    settings: dict[str, object] = json.loads(done.stdout)["settings"]
    return settings


@pytest.mark.parametrize("separators", [",", " , ", ",,", " ,\t, "])
@pytest.mark.parametrize("name", ["sync_resources", "sync_resource_types"])
def test_a_variable_of_separators_leaves_the_files_list_in_force(tmp_path: Path, separators: str, name: str) -> None:
    variable = f"BATON_{name.upper()}"
    row = _effective(tmp_path, env={variable: separators})[name]
    expected = FILE_TARGETS if name == "sync_resources" else ["role", "team"]
    assert row == {"value": expected, "source": "file", "env": variable}


@pytest.mark.parametrize(
    "flags",
    [["--sync-resources", ","], ["--sync-resources", ",", "--sync-resources", " , "], ["--sync-resources=,,"]],
    ids=["once", "repeated", "equals"],
)
def test_a_flag_of_separators_leaves_the_next_source_in_force(tmp_path: Path, flags: list[str]) -> None:
    settings = _effective(tmp_path, *flags, env={"BATON_SYNC_RESOURCES": "role:r2"})
    assert settings["sync_resources"] == {"value": ["role:r2"], "source": "env", "env": "BATON_SYNC_RESOURCES"}


def test_entries_among_the_separators_are_still_taken(tmp_path: Path) -> None:
    settings = _effective(tmp_path, "--sync-resources", ",role:r3,", env={"BATON_SYNC_RESOURCES": ","})
    assert settings["sync_resources"] == {"value": ["role:r3"], "source": "flag", "env": "BATON_SYNC_RESOURCES"}
