"""What review r1503 proved against `config`'s start checks: lines redacted of keys too short to be secrets (the run
keeps them whole), error lines unbounded where the run shows 20 and a count, a temp dir this user cannot write and a
`--file` name the save's temp file cannot have (both told by looking alone) passed as fine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon.cli import ROOT, clean_env, run_cli_in_process

API_KEY = "0123456789abcdef0123456789abcdef"
APP_KEY = "fedcba9876543210fedcba9876543210fedcba98"
KEYS = {"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY}


def _lines(stderr: str, prefix: str) -> list[str]:
    return [line.removeprefix(prefix) for line in stderr.splitlines() if line.startswith(prefix)]


@pytest.mark.parametrize(
    ("env", "args"),
    [
        # A key too short to be one (the run's redactor ignores values under MIN_SECRET_LENGTH, 8): config blanked
        # every "e" out of the run's line.
        ({"BATON_API_KEY": "e", "BATON_APP_KEY": "e"}, ["--file", "/dev/null"]),
        ({"BATON_API_KEY": "x", "BATON_APP_KEY": APP_KEY}, ["--file", "~/x.c1z"]),
    ],
)
def test_config_says_the_runs_line_when_a_key_is_short(env: dict[str, str], args: list[str], tmp_path: Path) -> None:
    run = run_cli_in_process(*args, env=env, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    said = _lines(run.stderr, "baton-datadog: ")
    table = run_cli_in_process("config", *args, env=env, cwd=tmp_path)
    assert table.returncode == 2, table.stderr
    assert set(said) <= set(_lines(table.stderr, "error: ")), (said, table.stderr)


def test_config_says_the_runs_missing_key_warning_when_the_other_key_is_short(tmp_path: Path) -> None:
    env = {"BATON_API_KEY": "ing"}
    args = ["--file", str(tmp_path / "s.c1z")]
    run = run_cli_in_process(*args, env=env, cwd=tmp_path)
    said = _lines(run.stderr, "baton-datadog: ")
    machine = run_cli_in_process("config", "--json", *args, env=env, cwd=tmp_path)
    assert set(said) <= set(json.loads(machine.stdout)["warnings"]), (said, machine.stdout)


def test_config_refuses_a_file_name_the_save_cannot_make_its_temp_file_for(tmp_path: Path) -> None:
    # 240 bytes is a legal name; the save's temp name adds 19 and passes NAME_MAX (255), which looking tells
    # (os.pathconf(dir, "PC_NAME_MAX")) without making anything.
    args = ["--file", "x" * 236 + ".c1z"]
    run = run_cli_in_process(*args, env=KEYS, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    said = _lines(run.stderr, "baton-datadog: ")
    table = run_cli_in_process("config", *args, env=KEYS, cwd=tmp_path)
    assert table.returncode == 2, table.stderr
    assert set(said) <= set(_lines(table.stderr, "error: "))


def test_config_refuses_a_temp_dir_this_user_cannot_write(tmp_path: Path) -> None:
    # As --file's directory is refused by looking (os.access), so can --c1z-temp-dir's be.
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root without setpriv: os.access says every directory is writable")
        drop = "-dac_override,-dac_read_search"
        prefix = [setpriv, f"--bounding-set={drop}", f"--inh-caps={drop}"]
    readonly = tmp_path / "ro"
    readonly.mkdir()
    readonly.chmod(0o555)
    env = clean_env(KEYS)
    args = ["--file", str(tmp_path / "s.c1z"), "--c1z-temp-dir", str(readonly)]
    results = {}
    for mode in ([], ["config"]):
        done = subprocess.run(
            [*prefix, sys.executable, "-m", "connector", *mode, *args],
            env={**env, "PYTHONPATH": str(ROOT)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        results[bool(mode)] = done
    run, table = results[False], results[True]
    assert run.returncode == 2, run.stderr
    said = _lines(run.stderr, "baton-datadog: ")
    assert table.returncode == 2, table.stderr
    assert set(said) <= set(_lines(table.stderr, "error: ")), (said, table.stderr)


def test_config_bounds_its_error_lines_as_the_run_does(tmp_path: Path) -> None:
    # The run names at most MAX_PROBLEMS_SHOWN refusals and counts the rest (`main.fail_settings`); config printed
    # one `error:` line per unknown entry (100,000 entries in a --config file: 100,000 lines).
    from connector.daemon.main import MAX_PROBLEMS_SHOWN
    from tests.daemon.cli import run_cli

    listed = tmp_path / "settings.yaml"
    listed.write_text(json.dumps({"sync-resource-types": [f"nope{i}" for i in range(500)]}))
    args = ["--config", str(listed), "--file", str(tmp_path / "s.c1z")]
    run = run_cli(*args, env=KEYS, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert len(_lines(run.stderr, "baton-datadog: ")) <= MAX_PROBLEMS_SHOWN + 1
    table = run_cli_in_process("config", *args, env=KEYS, cwd=tmp_path)
    assert table.returncode == 2
    assert len(_lines(table.stderr, "error: ")) <= MAX_PROBLEMS_SHOWN + 1, len(_lines(table.stderr, "error: "))


def test_start_problems_are_kept_in_linear_time() -> None:
    # `StartProblems.add` kept each problem only if `problem not in kept` (a list): n refusals cost n²/2 string
    # comparisons, ~10 s of CPU for 40,000 unknown types in a --config file, ~60 s for 100,000.
    from connector.daemon.startchecks import StartProblems

    compared = 0

    class Counted(str):
        __hash__ = str.__hash__

        def __eq__(self, other: object) -> bool:
            nonlocal compared
            compared += 1
            return str.__eq__(self, other)

    n = 2000
    StartProblems().add([Counted(f"setting --sync-resource-types: nope{i}") for i in range(n)])
    assert compared <= 10 * n, compared
