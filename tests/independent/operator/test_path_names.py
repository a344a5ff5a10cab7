"""An independent attack on every path an operator gives: a name the file system refuses outright.

`Path.exists()`, `is_dir()`, `is_file()` and `is_symlink()` answer False for what is not there but raise for a name
too long to look up (a component over 255 bytes, a path over 4,096: ENAMETOOLONG). Every check of an operator's
path answers with the setting or variable named, before any request: never "<path>: File name too long", exit 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.baton.c1z.workfiles import temp_dir_problem
from connector.baton.netenv import environment_problems
from connector.baton.sync.to_file import output_file_problem

TOO_LONG = "the name is too long for the file system"


def _names(tmp: Path) -> list[Path]:
    return [tmp / ("n" * 300), tmp.joinpath(*["d" * 200] * 25)]  # one component over 255 bytes; the whole over 4,096


@pytest.mark.parametrize("which", [0, 1], ids=["long-component", "long-path"])
def test_an_output_file_of_a_name_too_long_is_a_problem_of_its_own(tmp_path: Path, which: int) -> None:
    path = _names(tmp_path)[which]
    assert (output_file_problem(path.with_suffix(".c1z"), None) or "").startswith(f": {TOO_LONG}")


@pytest.mark.parametrize("which", [0, 1], ids=["long-component", "long-path"])
def test_a_temp_dir_of_a_name_too_long_is_a_problem_of_its_own(tmp_path: Path, which: int) -> None:
    path = _names(tmp_path)[which]
    assert (temp_dir_problem(path) or "").startswith(f"{path}: {TOO_LONG}")


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "SSL_CERT_DIR"])
@pytest.mark.parametrize("which", [0, 1], ids=["long-component", "long-path"])
def test_a_tls_variable_naming_a_path_too_long_is_named(tmp_path: Path, variable: str, which: int) -> None:
    path = _names(tmp_path)[which]
    (problem,) = environment_problems({variable: str(path)})
    assert problem.startswith(f"environment {variable}: {path}: {TOO_LONG}")


def test_a_cert_dir_list_names_only_the_entry_too_long(tmp_path: Path) -> None:
    long = _names(tmp_path)[0]
    (problem,) = environment_problems({"SSL_CERT_DIR": f"{tmp_path}:{long}"})
    assert problem == f"environment SSL_CERT_DIR: {long}: {TOO_LONG} (File name too long); use a shorter one"
