"""Guards the class "a file's index that lacks rows of its table, read in place of the table": SQLite's `quick_check`,
the opening's check, reads every page but does not compare an index with its table, so one damaged index page (here:
an index built without some rows, then declared whole) passes it.

The store reads a resumed run's rows through the file's indexes (`stored_resources`, `get_resource`, the resumed
listings' cursor, the upserts' conflict target): without role r0 in the unique resource index, the resumed run found
the role missing, dropped its grants as dangling and was saved as a complete sync without them (found by mutating an
unfinished file's bytes). An opened file's indexes are now rebuilt from its tables (`_Db.rebuild_indexes`).

The reader (`inspect`, the start-up check's look for another connector's types) read through them too: its summary
counted half the grants and `--resources user` listed 22 of 23 users, exit 0. Its counts and listings now read the
tables (`NOT INDEXED`)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest
import structlog

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import database_of, envelope, good_c1z, run_inspect

# Unique indexes the store reads a resumed run through: (its definition, the rows of role r0 or the unfinished run).
_UNIQUE = {
    "resources": (
        "CREATE UNIQUE INDEX idx_resources_parent_resource_id_v1 on v1_resources (external_id, sync_id)",
        "external_id != 'role:r0'",
    ),
    "sync runs": (
        "CREATE UNIQUE INDEX idx_sync_runs_sync_id_v1 on v1_sync_runs (sync_id)",
        "ended_at IS NOT NULL",
    ),
}


@pytest.fixture(scope="module")
def unfinished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unfinished sync saved by a failure in the grants phase, its roles stored: the next run resumes it."""
    where = tmp_path_factory.mktemp("unfinished")
    path = where / "unfinished.c1z"
    with pytest.raises(InjectedFailure):
        asyncio.run(sync_to_file(syncers(Org(), Faults(fail_at_call=19)), path, options(concurrency=1), tmp_dir=where))
    return path


def _index_lacking(c1z: Path, out: Path, definition: str, kept: str, *, before: str = "") -> Path:
    """`c1z` whose index `definition` holds only the rows where `kept`, its schema saying it is whole, as a damaged page
    of the index leaves it: built as a partial index, then declared the full one. The SQL `before` runs first, the row
    id it inserts given to `kept` as `{copy}`."""
    name = definition.split(" INDEX ", 1)[1].split()[0]
    db = out.with_suffix(".db")
    db.write_bytes(database_of(c1z))
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute(f"DROP INDEX {name}")
        if before:
            kept = kept.format(copy=conn.execute(before).lastrowid)
        conn.execute(f"{definition} WHERE {kept}")
        conn.execute("PRAGMA writable_schema=ON")
        conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", (definition, name))
        conn.commit()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA quick_check").fetchall() == [("ok",)], "the opening's check passes it"
        assert conn.execute("PRAGMA integrity_check").fetchall() != [("ok",)]
    out.write_bytes(envelope(db.read_bytes()))
    db.unlink()
    return out


@pytest.mark.parametrize("index", sorted(_UNIQUE))
async def test_a_resumed_run_over_an_index_lacking_a_row_ends_whole(
    unfinished: Path, tmp_path: Path, index: str
) -> None:
    """Without role r0 in the resources' index, its grants were dropped as dangling; without the run in the sync runs'
    index, the run listed by a scan was not found by its id: "unexpected error: KeyError", every run."""
    definition, kept = _UNIQUE[index]
    path = await asyncio.to_thread(_index_lacking, unfinished, tmp_path / "resumed.c1z", definition, kept)
    org = Org()
    result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    assert result.resumed, "the run is resumed: its rows are whole, only the index was not"
    with C1ZReader(path, tmp_path) as reader:
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
        assert sorted(r.id.resource for r in reader.resources("role")) == ["r0", "r1", "r2"]


async def test_a_resumed_run_over_a_unique_index_its_rows_no_longer_fit_starts_over_whole(
    unfinished: Path, tmp_path: Path
) -> None:
    """The same damage over a resource stored twice (the unique index holds one of its rows): the index cannot be
    rebuilt, which is damage, and a new sync starts in a new file."""
    # A copy of role r0's row, then the index without it.
    copy = (
        "INSERT INTO v1_resources (resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, "
        "sync_id, discovered_at) SELECT resource_type_id, external_id, parent_resource_type_id, parent_resource_id, "
        "data, sync_id, discovered_at FROM v1_resources WHERE external_id = 'role:r0'"
    )
    definition, _ = _UNIQUE["resources"]
    path = await asyncio.to_thread(
        _index_lacking, unfinished, tmp_path / "resumed.c1z", definition, "id != {copy}", before=copy
    )
    org = Org()
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    assert not result.resumed
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert warning["event"] == "existing c1z is damaged; starting a new sync instead of resuming"
    assert warning["error"].startswith(f"{path}: damaged SQLite database: UNIQUE constraint failed"), warning["error"]
    with C1ZReader(path, tmp_path) as reader:
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
        assert sorted(r.id.resource for r in reader.resources("role")) == ["r0", "r1", "r2"]


_DAMAGED_INDEXES = {
    "resources by type": ("idx_resources_resource_type_id_v1", "v1_resources (resource_type_id)"),
    "grants by resource": ("idx_grants_resource_type_id_resource_id_v1", "v1_grants (resource_type_id, resource_id)"),
    "entitlements by resource": ("idx_entitlements_resource_id_v1", "v1_entitlements (resource_type_id, resource_id)"),
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("finished")
    return asyncio.run(good_c1z(where / "good.c1z", where))


@pytest.mark.parametrize("case", sorted(_DAMAGED_INDEXES))
def test_inspect_counts_and_lists_the_rows_of_the_tables_not_of_a_damaged_index(
    finished: Path, tmp_path: Path, case: str
) -> None:
    index, columns = _DAMAGED_INDEXES[case]
    expected = {
        listing: run_inspect(finished, *listing)[1]
        for listing in [(), ("--resources", "user"), ("--grants",), ("--entitlements",)]
    }
    db = tmp_path / "damaged.db"
    db.write_bytes(database_of(finished))
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute(f"DROP INDEX {index}")
        # Half the rows, and user u0003's row, left out of the index.
        conn.execute(f"CREATE INDEX {index} on {columns} WHERE id % 2 = 0 AND external_id != 'user:u0003'")
        conn.execute("PRAGMA writable_schema=ON")
        conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", (f"CREATE INDEX {index} on {columns}", index))
        conn.commit()
    path = tmp_path / "damaged.c1z"
    path.write_bytes(envelope(db.read_bytes()))
    for listing, shown in expected.items():
        code, out, err = run_inspect(path, *listing)
        assert (code, err) == (0, ""), listing
        assert out.replace(str(path), "FILE") == shown.replace(str(finished), "FILE"), listing
