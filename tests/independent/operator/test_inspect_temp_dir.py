"""`inspect` unpacks its file under BATON_C1Z_TEMP_DIR: a value it cannot use names the variable, exit 2.

The line named the file ("<file>: cannot unpack: cannot create a working directory in ...") and not the variable to
fix, unlike every other refusal of a setting.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.daemon.cli import last_line, run_cli_in_process
from tests.fixtures_dir import FIXTURES_DIR
from tests.independent.operator.conftest import assert_quiet

OLD_FILE = FIXTURES_DIR / "c1z" / "old-sdk-v0.1.14.small.c1z"


@pytest.mark.parametrize("kind", ["missing", "a-file", "name-too-long"])
def test_a_temp_dir_inspect_cannot_use_names_the_variable(tmp_path: Path, kind: str) -> None:
    (tmp_path / "a-file").write_text("")
    tmp = {"missing": tmp_path / "missing", "a-file": tmp_path / "a-file", "name-too-long": tmp_path / ("n" * 300)}
    done = run_cli_in_process("inspect", "--file", str(OLD_FILE), env={"BATON_C1Z_TEMP_DIR": str(tmp[kind])})
    assert done.returncode == 2, done.stderr
    assert last_line(done.stderr).startswith(f"baton-datadog: inspect: environment BATON_C1Z_TEMP_DIR: {tmp[kind]}")
    assert done.stdout == ""
    assert_quiet(done.stdout, done.stderr)


def test_a_usable_temp_dir_is_where_inspect_unpacks_and_it_is_left_empty(tmp_path: Path) -> None:
    done = run_cli_in_process("inspect", "--file", str(OLD_FILE), env={"BATON_C1Z_TEMP_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "TOTAL" in done.stdout
    assert list(tmp_path.iterdir()) == []
