"""A working directory removed while the run stands in it (another shell's `rm -rf out && mkdir out`, a cron job's
directory rotated away): a relative `--file` passed the directory's checks (a removed directory still answers `stat`)
and was refused as "the directory . is not writable (No such file or directory)", which sent the operator to its
permissions. It says the directory was removed, and what to do; still before any request, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.daemon.cli import clean_env, last_line
from tests.fakes.env import TREE
from tests.independent.firsthour.conftest import KEYS, assert_quiet


def test_a_relative_file_in_a_removed_working_directory_says_it_was_removed(tmp_path: Path) -> None:
    gone = tmp_path / "out"
    gone.mkdir()
    # Nothing listens at port 9: a request would end in "cannot reach", exit 1.
    env = clean_env({**KEYS, "BATON_BASE_URL": "http://127.0.0.1:9", "PYTHONPATH": str(TREE)})
    leave = ["sh", "-c", 'cd "$1" && rmdir "$1" && shift && exec "$@"', "sh", str(gone)]
    done = subprocess.run(
        [*leave, sys.executable, "-m", "connector", "--file", "sync.c1z"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert last_line(done.stderr) == (
        "baton-datadog: setting --file (BATON_FILE): sync.c1z: the working directory was removed (No such file or "
        "directory); if it was made again, cd into it again or give the full path"
    )
    assert "cannot reach" not in done.stderr
    assert_quiet(done.stdout, done.stderr)
