"""What review r1504 proved against the look-only start checks: run by the real run too, a look refused a temp dir the
run could use (where a container's seccomp filter refuses `faccessat2`, `os.access` with effective ids says no to any
directory). The looks are `config`'s only; a run tries what it needs, and a file system that states no name limit
(`PC_NAME_MAX` -1 or 0) refuses no name."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from connector.baton.c1z import workfiles
from connector.baton.sync import to_file
from tests.daemon.cli import ROOT

PROBE = """
import sys
from pathlib import Path
from connector.baton.c1z.workfiles import temp_dir_problem
print(temp_dir_problem(Path(sys.argv[1])))
"""


def test_the_runs_temp_dir_check_makes_no_guess_by_access(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `os.access` saying no, as it says where `faccessat2` is filtered: the run tries the directory itself.
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    assert workfiles.temp_dir_problem(tmp_path) is None


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to stand in for a seccomp filter")
def test_a_writable_temp_dir_is_not_refused_where_faccessat2_is_filtered(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            "strace",
            "-f",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            "trace=faccessat2",
            "-e",
            "inject=faccessat2:error=EPERM",
            sys.executable,
            "-c",
            PROBE,
            str(tmp_path),
        ],
        env={"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "None", done.stdout


@pytest.mark.parametrize("stated", [-1, 0])
def test_a_file_system_stating_no_name_limit_refuses_no_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stated: int
) -> None:
    monkeypatch.setattr(os, "pathconf", lambda *args: stated)
    assert to_file.output_path_problem(tmp_path / ("x" * 240 + ".c1z")) is None
