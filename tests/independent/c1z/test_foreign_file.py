"""Another connector's c1z at the path a sync writes (`sync.c1z` is every baton connector's default name).

One-shot and service mode refuse such a file at start (`output_file_problem`). A service's periodic syncs run long
after that check, through `sync_to_file`: a file that another connector wrote there since (two containers on one
volume, each with the default name) was replaced by this connector's sync, that connector's sync lost without a
word. `sync_to_file` refuses it too when told the connector's types, and leaves it as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from pathlib import Path

import pytest

from connector.baton.c1z import reader as reader_module
from connector.baton.c1z.errors import C1ZFormatError
from connector.baton.c1z.reader import C1ZReader, damaged_types_outside
from connector.baton.c1z.schema import stored_columns
from connector.baton.sync.to_file import output_file_problem, sync_to_file
from tests.baton.fake_connector import Faults, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.fixtures_dir import FIXTURES_DIR
from tests.independent.c1z.hostile import database_of, edited, envelope, good_c1z, leftovers

OURS = ("user", "group", "role")


async def test_a_periodic_sync_leaves_another_connectors_file_as_it_is(tmp_path: Path) -> None:
    path = await good_c1z(tmp_path / "sync.c1z", tmp_path)
    other = edited(
        path,
        tmp_path / "other.c1z",
        "UPDATE v1_resource_types SET external_id = 'okta_' || external_id",
        "UPDATE v1_resources SET resource_type_id = 'okta_' || resource_type_id",
    )
    before = other.read_bytes()
    with pytest.raises(C1ZFormatError) as refused:
        await sync_to_file(syncers(Org(), Faults()), other, options(), tmp_dir=tmp_path, known_types=OURS)
    assert str(refused.value) == (
        f"{other}: the existing file holds another connector's sync, or a newer release's of this one (resource types "
        "'okta_group', 'okta_role', 'okta_user'; this connector writes group, role, user); move it away or name "
        "another file — it is never overwritten blindly"
    )
    assert other.read_bytes() == before
    assert leftovers(tmp_path, path, other) == []


async def test_its_own_file_is_synced_into_as_before(tmp_path: Path) -> None:
    org = Org()
    path = await good_c1z(tmp_path / "sync.c1z", tmp_path, org)
    result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path, known_types=OURS)
    with C1ZReader(path, tmp_path) as reader:
        assert [r.sync_id for r in reader.sync_runs()] == [result.sync_id]
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)


def _write_version_3(c1z: Path, out: Path) -> Path:
    db = bytearray(database_of(c1z))
    db[18] = 3  # SQLite's file format write version: read, never written
    out.write_bytes(envelope(bytes(db)))
    return out


# A Go SDK test connector's c1z (types group, project, role and user): another connector's file whose objects are
# its own (a resource's type is its row's), as a real one's are.
ANOTHER = FIXTURES_DIR / "c1z" / "sync.36zfOAoWMxQdISbixanQCRBiX7E.expanded.c1z"


@pytest.mark.parametrize(
    "damage",
    [
        (
            "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT)",
            "INSERT INTO notes (body) VALUES ('x')",
        ),
        ("UPDATE v1_resources SET id = 0 WHERE id = (SELECT min(id) FROM v1_resources)",),
        ("CREATE TABLE kept (id INTEGER, name TEXT COLLATE NOCASE)",),
        "write version 3",
    ],
    ids=["autoincrement-table", "row-id-0", "collation", "write-version-3"],
)
def test_another_connectors_file_the_checks_call_damaged_is_refused_not_replaced(
    tmp_path: Path, damage: tuple[str, ...] | str
) -> None:
    """Damage is a restart, and a restart replaces the file: another connector's file with SQL of its own (or a header
    SQLite will not write) was replaced at start-up and by every periodic sync, although the same file without that
    was refused as another connector's. What can still be read of its plain tables names its types."""
    if isinstance(damage, str):
        other = _write_version_3(ANOTHER, tmp_path / "other.c1z")
    else:
        other = edited(ANOTHER, tmp_path / "other.c1z", *damage)
    before = other.read_bytes()
    problem = output_file_problem(other, tmp_path, OURS)
    assert problem is not None
    assert "'project'" in problem, problem
    with pytest.raises(C1ZFormatError, match="another connector's sync"):
        asyncio.run(sync_to_file(syncers(Org(), Faults()), other, options(), tmp_dir=tmp_path, known_types=OURS))
    assert other.read_bytes() == before


async def test_its_own_damaged_file_still_starts_over(tmp_path: Path) -> None:
    org = Org()
    path = await good_c1z(tmp_path / "sync.c1z", tmp_path, org)
    ours = edited(path, tmp_path / "ours.c1z", "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT)")
    assert output_file_problem(ours, tmp_path, OURS) is None
    result = await sync_to_file(syncers(org, Faults()), ours, options(), tmp_dir=tmp_path, known_types=OURS)
    with C1ZReader(ours, tmp_path) as reader:
        assert [r.sync_id for r in reader.sync_runs()] == [result.sync_id]


@pytest.mark.parametrize("default", ["false", "TRUE", "x'00'"])
async def test_a_column_whose_default_is_a_keyword_literal_is_read(tmp_path: Path, default: str) -> None:
    """An older baton-sdk declared `is_partial boolean not null default false`: FALSE, TRUE and a blob are literals
    SQLite runs no code for, and such a file was refused as holding "a default that is an expression"."""
    path = await good_c1z(tmp_path / "sync.c1z", tmp_path)
    added = edited(
        path, tmp_path / "added.c1z", f"ALTER TABLE v1_sync_runs ADD COLUMN is_partial boolean DEFAULT {default}"
    )
    with C1ZReader(added, tmp_path) as reader:
        assert len(reader.sync_runs()) == 1


def _with_page(c1z: Path, out: Path, page_of: str, content: str) -> Path:
    """`c1z` with the root page of the object `page_of` overwritten: zeros, or (`content`) another object's page."""
    db = bytearray(database_of(c1z))
    peek = out.with_suffix(".peek")
    peek.write_bytes(db)
    with contextlib.closing(sqlite3.connect(peek)) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = dict(conn.execute("SELECT name, rootpage FROM sqlite_master WHERE rootpage"))
    peek.unlink()
    at = root[page_of]
    source = bytes(size) if content == "zeros" else db[(root[content] - 1) * size : root[content] * size]
    db[(at - 1) * size : at * size] = source
    out.write_bytes(envelope(bytes(db)))
    return out


async def test_its_own_file_with_a_damaged_index_starts_over(tmp_path: Path) -> None:
    """A damaged file's index may name what its table does not: read through it, ours named other types (the page of
    another index in its place) and was refused as another connector's, every run. The tables are read without it."""
    org = Org()
    path = await good_c1z(tmp_path / "sync.c1z", tmp_path, org)
    ours = _with_page(
        path, tmp_path / "ours.c1z", "idx_resources_resource_type_id_v1", "idx_resources_parent_resource_id_v1"
    )
    ours = _with_page(ours, tmp_path / "ours2.c1z", "v1_grants", "zeros")
    assert output_file_problem(ours, tmp_path, OURS) is None
    result = await sync_to_file(syncers(org, Faults()), ours, options(), tmp_dir=tmp_path, known_types=OURS)
    with C1ZReader(ours, tmp_path) as reader:
        assert [r.sync_id for r in reader.sync_runs()] == [result.sync_id]


def test_another_connectors_file_with_a_broken_index_is_refused_by_its_tables(tmp_path: Path) -> None:
    """One query over both tables failed as a whole on one bad page of an index, the answer was "no types", and the
    file was replaced, though both tables named another connector's types."""
    other = _with_page(ANOTHER, tmp_path / "other.c1z", "idx_resources_resource_type_id_v1", "zeros")
    before = other.read_bytes()
    problem = output_file_problem(other, tmp_path, OURS)
    assert problem is not None
    assert "'project'" in problem, problem
    with pytest.raises(C1ZFormatError, match="another connector's sync"):
        asyncio.run(sync_to_file(syncers(Org(), Faults()), other, options(), tmp_dir=tmp_path, known_types=OURS))
    assert other.read_bytes() == before


@pytest.mark.parametrize("page", ["v1_sync_runs", "v1_resource_types"])
async def test_its_own_file_with_another_tables_page_in_place_of_its_resources_starts_over(
    tmp_path: Path, page: str
) -> None:
    """A misplaced write: another table's page where `v1_resources`' root was. Its cells, read in the resources' layout,
    gave a sync id as a resource type, and ours was refused as another connector's every run. A type counts only
    when its row's own object names it."""
    org = Org()
    path = await good_c1z(tmp_path / "sync.c1z", tmp_path, org)
    ours = _with_page(path, tmp_path / "ours.c1z", "v1_resources", page)
    assert damaged_types_outside(ours, OURS, 6, tmp_path) == []
    assert output_file_problem(ours, tmp_path, OURS) is None
    await sync_to_file(syncers(org, Faults()), ours, options(), tmp_dir=tmp_path, known_types=OURS)


async def test_a_generated_type_column_is_never_evaluated(tmp_path: Path) -> None:
    """A generated `resource_type_id` runs its expression for each row read (333 rows of a 15 KB file took 15 s with
    a costly one). Such a column is not read at all: this one would name another connector's type."""
    path = await good_c1z(tmp_path / "sync.c1z", tmp_path)
    other = edited(
        path,
        tmp_path / "other.c1z",
        "ALTER TABLE v1_resources RENAME COLUMN resource_type_id TO rt",
        "ALTER TABLE v1_resources ADD COLUMN resource_type_id text GENERATED ALWAYS AS ('okta_' || rt) VIRTUAL",
    )
    assert damaged_types_outside(other, OURS, 6, tmp_path) == []


def test_a_virtual_table_dressed_as_a_table_is_not_read(tmp_path: Path) -> None:
    """`sqlite_master`'s type and root page are the file's own words: an FTS5 table named `v1_resources` claiming a
    root page was read, and FTS5 read its content from a view of the file's (its SQL ran, and named a type). SQLite's
    own `table_list` tells a virtual table."""
    db = tmp_path / "x.db"
    db.write_bytes(database_of(ANOTHER))
    named = "X'0a0f0a0d76696577735f73716c5f72616e'"  # Resource{id{resource_type: 'views_sql_ran'}}
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("DROP TABLE v1_resources")
        conn.execute(f"CREATE VIEW v AS SELECT 1 AS rid, 'views_sql_ran' AS resource_type_id, {named} AS data")
        conn.execute(
            "CREATE VIRTUAL TABLE v1_resources USING fts5(resource_type_id, data, content='v', content_rowid='rid')"
        )
        conn.commit()
        conn.execute("PRAGMA writable_schema=ON")
        conn.execute("UPDATE sqlite_master SET rootpage = 3 WHERE name = 'v1_resources'")
        conn.commit()
    other = tmp_path / "other.c1z"
    other.write_bytes(envelope(db.read_bytes()))
    assert "views_sql_ran" not in damaged_types_outside(other, OURS, 6, tmp_path)


@pytest.mark.slow
async def test_no_single_flipped_bit_makes_our_own_file_another_connectors(tmp_path: Path) -> None:
    """A flipped bit in a record's header garbles its type text, and the row's object then does not read: taken as
    "unreadable, the type column speaks", our own file was refused as another connector's (74 flips of these pages).
    Every bit of every page of the two tables is flipped in turn and the file read as the check reads it."""
    path = await good_c1z(tmp_path / "sync.c1z", tmp_path)
    db = database_of(path)
    peek = tmp_path / "peek.db"
    peek.write_bytes(db)
    with contextlib.closing(sqlite3.connect(peek)) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [
            int(row[0])
            for row in conn.execute("SELECT pageno FROM dbstat WHERE name IN ('v1_resources', 'v1_resource_types')")
        ]
    assert pages, "the two tables' pages"
    found: list[tuple[int, int, list[str]]] = []
    for page in pages:
        for at in range((page - 1) * size, page * size):
            if db[at - 1 : at + 2] == b"\0\0\0":
                continue  # free space: nothing reads it
            for bit in range(8):
                flipped = bytearray(db)
                flipped[at] ^= 1 << bit
                conn = sqlite3.connect(":memory:")
                try:
                    conn.deserialize(bytes(flipped))
                    for table, column in (("v1_resource_types", "external_id"), ("v1_resources", "resource_type_id")):
                        with contextlib.suppress(sqlite3.Error):
                            if stored_columns(conn, table, column, "data"):
                                named = reader_module._outside(conn, table, column, OURS, 6)
                                if named:
                                    found.append((at, bit, named))
                except sqlite3.Error:
                    pass
                finally:
                    conn.close()
    assert found == []


def test_what_a_broken_table_yields_before_its_error_still_counts(tmp_path: Path) -> None:
    """A torn write over two pages of a Go-written file: `v1_resource_types`' root and a later `v1_resources` leaf. The
    rows before the broken leaf name its type, but one DISTINCT query gave nothing before SQLite's error, and the file
    was replaced."""
    go_file = FIXTURES_DIR / "c1z" / "old-sdk-v0.1.14.small.c1z"
    db = database_of(go_file)
    peek = tmp_path / "peek.db"
    peek.write_bytes(db)
    with contextlib.closing(sqlite3.connect(peek)) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        types_root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'v1_resource_types'").fetchone()[0]
        leaves = [
            int(row[0])
            for row in conn.execute(
                "SELECT pageno FROM dbstat WHERE name = 'v1_resources' AND pagetype = 'leaf' ORDER BY path"
            )
        ]
    torn = bytearray(db)
    for page in (types_root, leaves[-1]):
        torn[(page - 1) * size : page * size] = bytes(size)
    other = tmp_path / "other.c1z"
    other.write_bytes(envelope(bytes(torn)))
    assert damaged_types_outside(other, OURS, 6, tmp_path) == ["team"]
    problem = output_file_problem(other, tmp_path, OURS)
    assert problem is not None
    assert "'team'" in problem, problem
