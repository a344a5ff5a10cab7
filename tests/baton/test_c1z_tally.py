"""The tally of a sync's rows (connector/baton/c1z/tally.py): pages tallied as they are written give the tally of the
table read back, and any row deleted, added, re-keyed, moved to another id or edited in place gives another."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from connector.baton.c1z import tally

_KEYS = ["user:u1", "user:" + "x" * 5000, "user:ü", "user:u4", "team:t5:member:user:u6"]
# Each grant's columns copied out of its object (`tally.COPIED_COLUMNS`), the same for all here.
_COPIES = ("role:r1:member", "role", "r1", "user", "u1")


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE v1_grants (id INTEGER PRIMARY KEY, external_id TEXT, entitlement_id TEXT DEFAULT 'role:r1:member', "
        "resource_type_id TEXT DEFAULT 'role', resource_id TEXT DEFAULT 'r1', principal_resource_type_id TEXT DEFAULT "
        "'user', principal_resource_id TEXT DEFAULT 'u1', data BLOB, expansion BLOB, sync_id TEXT)"
    )
    conn.execute("INSERT INTO v1_grants (external_id, data, sync_id) VALUES ('another sync', x'00', 'B')")
    yield conn
    conn.close()


def _object(key: str) -> bytes:
    return b"object of " + key.encode()


def _expansion(key: str) -> bytes | None:
    return b"expands " + key.encode() if key.endswith("4") else None


def _written(conn: sqlite3.Connection, keys: list[str], page: int) -> tally.Tally:
    """`keys` inserted for sync 'A' in pages of `page`, each page tallied as the store tallies it."""
    written = tally.Tally()
    for start in range(0, len(keys), page):
        chunk = keys[start : start + page]
        (before,) = conn.execute("SELECT max(id) FROM v1_grants").fetchone()
        values = [(k, _object(k), _expansion(k)) for k in chunk]
        conn.executemany("INSERT INTO v1_grants (external_id, data, expansion, sync_id) VALUES (?, ?, ?, 'A')", values)
        columns = [column for key in chunk for column in (key, *_COPIES)]
        written = written.appended(before + 1, columns, [v[1] for v in values], [v[2] for v in values])
    return written


@pytest.mark.parametrize("page", [1, 2, 5])
def test_pages_tallied_as_written_are_the_table_read_back(conn: sqlite3.Connection, page: int) -> None:
    """Whatever the pages, and over a key longer than what is tallied of it (read back, SQLite cuts it the same way)."""
    written = _written(conn, _KEYS, page)
    assert written == tally.of_file(conn, "v1_grants", "A")
    assert (written.rows, written.last_id, written.id_sum) == (5, 6, 2 + 3 + 4 + 5 + 6)


CHANGES = {
    "a row deleted and another added": (
        "DELETE FROM v1_grants WHERE id = 3",
        "INSERT INTO v1_grants (external_id, data, sync_id) VALUES ('user:planted', x'00', 'A')",
    ),
    "a row re-keyed": ("UPDATE v1_grants SET external_id = 'user:planted' WHERE id = 3",),
    "a row moved to another id": ("UPDATE v1_grants SET id = 100 WHERE id = 3",),
    "two rows' keys swapped": (
        "UPDATE v1_grants SET external_id = CASE id WHEN 2 THEN 'user:u4' ELSE 'user:u1' END WHERE id IN (2, 5)",
    ),
    "another sync's row taken": ("UPDATE v1_grants SET sync_id = 'A' WHERE id = 1",),
    "an object edited in place": ("UPDATE v1_grants SET data = x'6f626a656374206f6620' WHERE id = 3",),
    "two rows' objects swapped": (
        "UPDATE v1_grants SET data = CASE id WHEN 2 THEN (SELECT data FROM v1_grants WHERE id = 5) "
        "ELSE (SELECT data FROM v1_grants WHERE id = 2) END WHERE id IN (2, 5)",
    ),
    "an expansion added": ("UPDATE v1_grants SET expansion = x'0a01' WHERE id = 3",),
    # Readers find and join rows by the columns copied out of the object without decoding it: a grant moved to another
    # role or principal by its columns alone.
    "a grant's resource column edited": ("UPDATE v1_grants SET resource_id = 'r2' WHERE id = 3",),
    "a grant's principal column edited": ("UPDATE v1_grants SET principal_resource_id = 'u9' WHERE id = 3",),
    "a grant's entitlement column edited": ("UPDATE v1_grants SET entitlement_id = 'role:r2:member' WHERE id = 3",),
    "a copied column emptied": ("UPDATE v1_grants SET resource_id = NULL WHERE id = 3",),
    "an expansion removed": ("UPDATE v1_grants SET expansion = NULL WHERE id = 5",),
}


@pytest.mark.parametrize("case", sorted(CHANGES))
def test_any_row_changed_gives_another_tally(conn: sqlite3.Connection, case: str) -> None:
    written = _written(conn, _KEYS, 2)
    for statement in CHANGES[case]:
        conn.execute(statement)
    assert tally.of_file(conn, "v1_grants", "A") != written


@pytest.mark.parametrize(
    "record",
    [None, [], {}, dict.fromkeys(tally.TALLIED_TABLES, 3), {"v1_grants": tally.Tally().to_json()}],
    ids=["none", "a list", "empty", "counts alone", "a table missing"],
)
def test_a_record_without_every_tables_tally_is_none(record: object) -> None:
    assert tally.recorded(record) is None


def test_rows_updated_in_place_are_revalued_as_the_table_read_back(conn: sqlite3.Connection) -> None:
    """An upsert keeps a row's id and key and replaces its values: its old values' term is taken out, the new one's put
    in, and the tally is the table's again, without reading the rest of it."""
    written = _written(conn, _KEYS, 2)
    before = conn.execute("SELECT id, data, expansion FROM v1_grants WHERE id IN (3, 5) ORDER BY id").fetchall()
    conn.execute("UPDATE v1_grants SET data = x'0102', expansion = NULL WHERE id IN (3, 5)")
    after = conn.execute("SELECT id, data, expansion FROM v1_grants WHERE id IN (3, 5) ORDER BY id").fetchall()
    assert written != tally.of_file(conn, "v1_grants", "A")
    assert written.revalued(before, after) == tally.of_file(conn, "v1_grants", "A")


def test_a_record_of_the_version_before_values_were_tallied_is_none() -> None:
    """Its run starts over: the objects its pages stored cannot be checked."""
    earlier = {table: {"rows": 1, "last_id": 1, "id_sum": 1, "keys_crc32": 1} for table in tally.TALLIED_TABLES}
    assert tally.recorded(earlier) is None


def test_a_record_of_the_version_that_tallied_keys_alone_is_none() -> None:
    """Its CRC covers the keys, not the columns copied out of the objects: its run starts over, with that reason, not
    with a warning that its rows were changed."""
    fields = {"rows": 1, "last_id": 1, "id_sum": 1, "keys_crc32": 1, "values_sum": 1}
    assert tally.recorded(dict.fromkeys(tally.TALLIED_TABLES, fields)) is None


def test_a_record_round_trips() -> None:
    tallies = {table: tally.Tally(n, n + 1, n + 2, n + 3, n + 4) for n, table in enumerate(tally.TALLIED_TABLES)}
    assert tally.recorded(tally.encoded(tallies)) == tallies
