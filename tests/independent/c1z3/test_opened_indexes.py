"""Guards the class "a file's index that lacks rows of its table, used by a run that does not resume" (found by review
r1104): the change that rebuilt a file's indexes (test_damaged_indexes.py) did so only for a resumed run. A new sync
into a file holding a finished sync (every periodic sync) ran whole, then `keep_only`'s DELETE met the missing index
entry ("database disk image is malformed"), and `sync_to_file` started the whole sync over in a new file: every
connector call made twice, under the warning "existing c1z is damaged; starting a new sync instead of resuming" though
nothing was resumed. A targeted run's `drop_other_partials` met it the same way. Every store opening an existing file
now rebuilds its indexes first (`_Db.rebuild_indexes`)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import structlog

from connector.baton import builders as b
from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import database_of, good_c1z
from tests.independent.c1z3.test_damaged_indexes import _UNIQUE, _index_lacking

# The index lacking role r0's row, or the finished run's (the unfinished run's rows of `_UNIQUE` are none here).
_LACKING = {
    "resources": _UNIQUE["resources"],
    "sync runs": (_UNIQUE["sync runs"][0], "ended_at IS NULL"),
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("finished")
    return asyncio.run(good_c1z(where / "good.c1z", where))


def _resources_of(c1z: Path, sync_id: str, db: Path) -> int:
    db.write_bytes(database_of(c1z))
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(*) FROM v1_resources WHERE sync_id = ?", (sync_id,)).fetchone()[0])


def _problems(events: Sequence[Mapping[str, object]]) -> list[tuple[object, object]]:
    return [(e["event"], e.get("error")) for e in events if e["log_level"] in ("warning", "error")]


@pytest.mark.parametrize("index", sorted(_LACKING))
async def test_a_new_sync_over_a_finished_file_whose_index_lacks_a_row_runs_once(
    finished: Path, tmp_path: Path, index: str
) -> None:
    clean = tmp_path / "clean.c1z"
    await asyncio.to_thread(shutil.copyfile, finished, clean)
    once = Faults()
    await sync_to_file(syncers(Org(), once), clean, options(), tmp_dir=tmp_path)

    definition, kept = _LACKING[index]
    path = await asyncio.to_thread(_index_lacking, finished, tmp_path / "damaged.c1z", definition, kept)
    org = Org()
    calls = Faults()
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, calls), path, options(), tmp_dir=tmp_path)
    # The rows were whole, only an index was not: one sync, not a second one under "damaged; starting a new sync".
    assert _problems(events) == []
    assert calls.calls == once.calls
    with C1ZReader(path, tmp_path) as reader:
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
        (run,) = reader.sync_runs()
        assert run.sync_id == result.sync_id


async def test_a_targeted_sync_drops_an_older_targeted_run_whose_rows_its_index_lacks(
    finished: Path, tmp_path: Path
) -> None:
    """`drop_other_partials` deleting the previous targeted run's rows met the missing entries the same way."""
    targets = [b.resource_id("group", "g0")]
    path = tmp_path / "targeted.c1z"
    await asyncio.to_thread(shutil.copyfile, finished, path)
    older = await sync_to_file(syncers(Org(), Faults()), path, options(targeted_resources=targets), tmp_dir=tmp_path)
    assert await asyncio.to_thread(_resources_of, path, older.sync_id, tmp_path / "read.db")
    definition, _ = _UNIQUE["resources"]
    damaged = await asyncio.to_thread(
        _index_lacking, path, tmp_path / "damaged.c1z", definition, f"sync_id != '{older.sync_id}'"
    )
    calls = Faults()
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(
            syncers(Org(), calls), damaged, options(targeted_resources=targets), tmp_dir=tmp_path
        )
    assert _problems(events) == []
    with C1ZReader(damaged, tmp_path) as reader:
        runs = {run.sync_id: run.sync_type for run in reader.sync_runs()}
    assert older.sync_id not in runs
    assert runs[result.sync_id] == "partial"
    assert sorted(runs.values()) == ["full", "partial"]
