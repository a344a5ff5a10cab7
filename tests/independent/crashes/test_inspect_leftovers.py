"""What an `inspect` killed while it read a file leaves is removed by the next `inspect`, as by the next sync.

`inspect` unpacks the whole file into a locked working directory in the temp dir. Killed while it reads (a terminal
hung up, a dropped `kubectl exec`, an OOM kill, SIGKILL: no cleanup runs), it leaves that copy, up to 10 GiB; every sync
removes such leftovers before it starts, but `inspect` did not, so where only `inspect` runs (a workstation reading
files copied out of a pod, the default temp dir) each kill added one more copy for good. A live process's directory
is locked and kept, and nothing of the sweep reaches the listing on standard output.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from connector.baton.c1z.workfiles import WorkDir
from tests.independent.c1z.hostile import good_c1z, run_inspect


def _killed(tmp: Path) -> Path:
    """A working directory whose process died: its lock is gone (the kernel drops it), its copy stays."""
    made = WorkDir.create(tmp, "read")
    (made.path / "sync.db").write_bytes(b"\x00" * 4096)
    fd = made._fd  # the process's descriptor, closed as its death closes it
    assert fd is not None
    os.close(fd)
    made._fd = None
    return made.path


async def test_inspect_removes_a_killed_inspects_copy_and_keeps_a_live_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    c1z = await good_c1z(tmp_path / "sync.c1z", tmp_path)
    dead = _killed(work)
    live = WorkDir.create(work, "read")
    try:
        monkeypatch.setenv("BATON_C1Z_TEMP_DIR", str(work))
        code, out, err = run_inspect(c1z)
        assert (code, err) == (0, "")
        assert json.loads(out)["file"] == str(c1z), "the listing alone on standard output"
        assert not dead.exists()
        assert [p.name for p in work.iterdir()] == [live.path.name]
    finally:
        live.release()
