"""The tally of a sync's rows (connector/baton/c1z/tally.py): pages tallied as they are written give the tally of the
table read back, and any row deleted, added, re-keyed or moved to another id gives another."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from connector.baton.c1z import tally

_KEYS = ["user:u1", "user:" + "x" * 5000, "user:ü", "user:u4", "team:t5:member:user:u6"]


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE v1_grants (id INTEGER PRIMARY KEY, external_id TEXT, sync_id TEXT)")
    conn.execute("INSERT INTO v1_grants (external_id, sync_id) VALUES ('another sync', 'B')")
    yield conn
    conn.close()


def _written(conn: sqlite3.Connection, keys: list[str], page: int) -> tally.Tally:
    """`keys` inserted for sync 'A' in pages of `page`, each page tallied as the store tallies it."""
    written = tally.Tally()
    for start in range(0, len(keys), page):
        chunk = keys[start : start + page]
        (before,) = conn.execute("SELECT max(id) FROM v1_grants").fetchone()
        conn.executemany("INSERT INTO v1_grants (external_id, sync_id) VALUES (?, 'A')", [(k,) for k in chunk])
        written = written.appended(before + 1, chunk)
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
        "INSERT INTO v1_grants (external_id, sync_id) VALUES ('user:planted', 'A')",
    ),
    "a row re-keyed": ("UPDATE v1_grants SET external_id = 'user:planted' WHERE id = 3",),
    "a row moved to another id": ("UPDATE v1_grants SET id = 100 WHERE id = 3",),
    "two rows' keys swapped": (
        "UPDATE v1_grants SET external_id = CASE id WHEN 2 THEN 'user:u4' ELSE 'user:u1' END WHERE id IN (2, 5)",
    ),
    "another sync's row taken": ("UPDATE v1_grants SET sync_id = 'A' WHERE id = 1",),
}


@pytest.mark.parametrize("case", sorted(CHANGES))
def test_any_row_changed_but_in_its_object_gives_another_tally(conn: sqlite3.Connection, case: str) -> None:
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


def test_a_record_round_trips() -> None:
    tallies = {table: tally.Tally(n, n + 1, n + 2, n + 3) for n, table in enumerate(tally.TALLIED_TABLES)}
    assert tally.recorded(tally.encoded(tallies)) == tallies
