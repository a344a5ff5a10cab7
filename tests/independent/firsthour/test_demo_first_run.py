"""`make demo` as a newcomer runs it: from a clone whose path holds a space (a home directory's "My Projects"), the
command it prints to look inside the sync is copied and run as printed; and Ctrl-C during a step ends it in words,
the daemon stopped and its log kept, not in a traceback."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow


def test_the_printed_inspect_command_runs_as_printed_and_ctrl_c_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from scripts import demo

    out_dir = tmp_path / "My Projects" / "démo"
    real_finished = demo.finished
    calls: list[str] = []

    def ctrl_c_at_the_grant(c1: Any, task_id: str) -> Any:
        calls.append(task_id)
        if len(calls) == 2:  # the sync is done and kept; the reader presses Ctrl-C while the grant runs
            raise KeyboardInterrupt
        return real_finished(c1, task_id)

    monkeypatch.setattr(demo, "finished", ctrl_c_at_the_grant)
    try:
        code = demo.main(["--out", str(out_dir)])
    except KeyboardInterrupt:  # as it did: a traceback through the step that was waiting
        pytest.fail("Ctrl-C ended the demo in a traceback")
    assert code == 130
    out = capsys.readouterr().out

    # The command as printed, in a shell: it named three arguments when the path was not quoted.
    printed = next(line for line in out.splitlines() if "(baton-datadog inspect " in line)
    command = printed.partition("(baton-datadog inspect ")[2].removesuffix(")")
    (path,) = shlex.split(command)
    assert path == str(out_dir / "sync.c1z")
    inspect = subprocess.run(
        [sys.executable, "-m", "connector", "inspect", *shlex.split(command)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert inspect.returncode == 0, inspect.stderr

    assert "interrupted (Ctrl-C)" in out
    assert "daemon stopped after Ctrl-C (and the demo's SIGTERM) with exit code 0" in out
    assert f"its log ({len((out_dir / 'daemon.log').read_text().splitlines())} lines): {out_dir / 'daemon.log'}" in out
    assert out.rstrip().endswith("demo interrupted")
