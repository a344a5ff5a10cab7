"""A leftover the sweep cannot remove never stops a sync, a start or an `inspect`, and is not counted as removed
(review r1610).

The sweeps (`workfiles.sweep_stale`, `sweep_stale_partials`) run at every sync and every service start. A dead save's
temp file whose removal the system refused (an immutable file, a bind mount at that name, an I/O error) raised out of
the sweep: every later sync failed on a leftover. A working directory `rmtree` could not remove whole was still
counted, and logged, as removed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from connector.baton.c1z import workfiles
from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, Org, syncers
from tests.baton.test_sync_engine import options

DEAD_SAVE = ".out.c1z.save-dead_k9z.tmp"


@pytest.fixture
def undeletable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Removing the dead save's temp file fails as an immutable file's removal does."""
    real = Path.unlink

    def unlink(self: Path, missing_ok: bool = False) -> None:
        if self.name == DEAD_SAVE:
            raise PermissionError(1, "Operation not permitted", str(self))
        real(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)


@pytest.mark.usefixtures("undeletable")
def test_a_leftover_that_cannot_be_removed_is_kept_and_not_counted(tmp_path: Path) -> None:
    (tmp_path / DEAD_SAVE).write_bytes(b"C1ZF\0half a c1z")
    assert workfiles.sweep_stale_partials(tmp_path / "out.c1z") == []
    assert (tmp_path / DEAD_SAVE).exists()


@pytest.mark.usefixtures("undeletable")
async def test_a_sync_is_not_stopped_by_a_leftover_that_cannot_be_removed(tmp_path: Path) -> None:
    (tmp_path / DEAD_SAVE).write_bytes(b"C1ZF\0half a c1z")
    out = tmp_path / "out.c1z"
    result = await sync_to_file(syncers(Org(), Faults()), out, options(), tmp_dir=tmp_path)
    with C1ZReader(out) as reader:
        assert [run.sync_id for run in reader.sync_runs()] == [result.sync_id]


def test_a_working_directory_not_removed_whole_is_not_counted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = tmp_path / "baton-c1z-sync-dead_k9z"
    dead.mkdir()
    (dead / "sync.db").write_bytes(b"")

    def rmtree(path: Any, ignore_errors: bool = False, **_: Any) -> None:
        (Path(path) / "sync.db").unlink()  # the database goes; the directory, holding an immutable file, stays

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    assert workfiles.sweep_stale(tmp_path) == []
    assert dead.exists()
