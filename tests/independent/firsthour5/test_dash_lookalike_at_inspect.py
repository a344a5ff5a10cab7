"""`inspect` names a dash look-alike (a flag pasted from a formatted page) as every other command does.

README: an argument "that starts with a dash look-alike (an en dash or em dash before `-file`, pasted from a formatted
page) is named by that character". At `inspect` it was not: argparse takes a word not starting with '-' for the file,
so `inspect <em dash>grants` said "<em dash>grants: no such file", and `inspect <en dash>-grants sync.c1z`
"1 unexpected argument(s)"; neither said what was wrong with what was typed. A file that really has such a name, or
one after `--`, is still read as one.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.daemon.cli import run_cli_in_process
from tests.independent.firsthour.conftest import assert_quiet

EN, EM, MINUS = "\u2013", "\u2014", "\u2212"
C1Z = Path(__file__).resolve().parents[2] / "fixtures" / "c1z"


def _a_c1z() -> Path:
    return sorted(C1Z.glob("*.c1z"))[0]


@pytest.mark.parametrize(
    ("args", "character"),
    [
        ([f"{EM}grants"], f"'{EM}' (EM DASH)"),
        ([f"{EN}-grants", "{file}"], f"'{EN}' (EN DASH)"),
        (["{file}", f"{EM}json"], f"'{EM}' (EM DASH)"),
        ([f"{MINUS}o", "json", "{file}"], f"'{MINUS}' (MINUS SIGN)"),
    ],
    ids=["alone", "before-the-file", "after-the-file", "short-flag"],
)
def test_a_dash_lookalike_is_named_by_its_character(tmp_path: Path, args: list[str], character: str) -> None:
    file = shutil.copy(_a_c1z(), tmp_path / "sync.c1z")
    done = run_cli_in_process("inspect", *[arg.format(file=file) for arg in args], cwd=tmp_path)
    assert_quiet(done.stdout, done.stderr)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"baton-datadog: inspect: an argument starts with {character}, not '-': type the flag's dashes again (a flag "
        "copied from a formatted page?); see baton-datadog inspect --help for its flags\n"
    )


def test_a_file_of_such_a_name_is_read(tmp_path: Path) -> None:
    shutil.copy(_a_c1z(), tmp_path / f"{EM}sync.c1z")
    for args in ([f"{EM}sync.c1z"], ["--", f"{EM}sync.c1z"]):
        done = run_cli_in_process("inspect", *args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"{EM}sync.c1z: showing sync ")
