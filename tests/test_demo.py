"""`make demo` (scripts/demo.py) is the README's first command: what it leaves behind is what a newcomer reads next."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_keeps_its_log_and_the_uploaded_sync_for_inspect(tmp_path: Path) -> None:
    demo = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    c1z = tmp_path / "sync.c1z"
    assert f"baton-datadog inspect {c1z}" in demo.stdout
    assert (tmp_path / "daemon.log").read_text().strip()

    inspect = subprocess.run(
        [sys.executable, "-m", "connector", "inspect", str(c1z), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert inspect.returncode == 0, inspect.stderr
    counts = {row["resource_type"]: row["resources"] for row in json.loads(inspect.stdout)["counts"]}
    # The demo's org (scripts/demo.py): 40 users, 5 roles, 5 teams.
    assert counts == {"role": 5, "team": 5, "user": 40}


def test_a_failed_step_is_one_line_with_the_daemons_log_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A demo on a machine where the sync fails (a full /tmp, a refused key) says which step failed and why, and
    still prints where the daemon's log is, instead of a StopIteration traceback that hides it."""
    from scripts import demo
    from tests.fakes.datadog import FakeDatadog

    class RefusingRoles(FakeDatadog):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # The key check passes; the sync's roles list is refused for good, so the sync task fails.
            self.faults.force(403, times=100, path="/api/v2/roles")

    monkeypatch.setattr(demo, "FakeDatadog", RefusingRoles)
    assert demo.main(["--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "1. full sync: FAILED (" in out
    assert "nothing was uploaded" in out
    assert (
        f"its log ({len((tmp_path / 'daemon.log').read_text().splitlines())} lines): {tmp_path / 'daemon.log'}" in out
    )
    assert out.rstrip().endswith("demo FAILED")


# Run as `make demo` runs it, with a Ctrl-C (a real SIGINT to the process) the moment the fakes' module loads: a
# point among the imports ahead of `main`, reached on every run, not a sleep that hopes to land there.
_CTRL_C_WHILE_LOADING = """
import importlib.abc, os, runpy, signal, sys

class CtrlC(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tests.fakes.c1":
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlC())
sys.argv = [sys.argv[1], "--out", sys.argv[2]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_ctrl_c_while_the_demo_loads_is_one_line_and_exit_130(tmp_path: Path) -> None:
    # It was a KeyboardInterrupt traceback through protobuf's imports: they ran at module level, outside any try.
    demo = subprocess.run(
        [sys.executable, "-c", _CTRL_C_WHILE_LOADING, str(ROOT / "scripts" / "demo.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert demo.returncode == 130, demo.stderr
    assert (demo.stdout, demo.stderr) == ("", "\ndemo interrupted\n")
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


@pytest.mark.parametrize(
    ("code", "interrupted", "said"),
    [
        (0, False, "stopped on SIGTERM with exit code 0"),
        # Ctrl-C reaches the daemon too (one process group): its 130 is its SIGINT, not the demo's SIGTERM.
        (130, True, "stopped on Ctrl-C (SIGINT) with exit code 130"),
        (0, True, "stopped after Ctrl-C (and the demo's SIGTERM) with exit code 0"),
        (-9, True, "ended by SIGKILL after the demo got Ctrl-C"),
    ],
)
def test_the_daemons_end_is_named_as_its_exit_code_tells_it(code: int, interrupted: bool, said: str) -> None:
    from scripts.demo import how_it_stopped

    assert how_it_stopped(code, interrupted=interrupted) == said
