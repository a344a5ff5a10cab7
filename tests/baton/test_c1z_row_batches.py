"""Rows read back from a c1z come in batches bounded in rows and in bytes (`rows.iter_blobs`): a c1z is untrusted,
and 1,000 rows of objects near the 4 MiB cap (or of keys near the 64 MiB value cap) in one fetch were gigabytes."""

from __future__ import annotations

import sqlite3
from typing import Any, cast

import pytest

from connector.baton.c1z import rows


class _Recording:
    """A connection that records the rows each read of objects handed over, batch by batch."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.batches: list[list[tuple[Any, ...]]] = []

    def execute(self, sql: str, params: tuple[Any, ...]) -> Any:
        cursor = self._conn.execute(sql, params)
        if not sql.startswith("SELECT id, CASE"):
            return cursor
        fetched = cursor.fetchall()
        self.batches.append(fetched)
        return _Fetched(fetched)


class _Fetched:
    def __init__(self, fetched: list[tuple[Any, ...]]) -> None:
        self._fetched = fetched

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._fetched


def _table(sizes: list[int], key_chars: int = 8) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE v1_resources (id INTEGER PRIMARY KEY, sync_id TEXT, data BLOB, external_id TEXT)")
    conn.executemany(
        "INSERT INTO v1_resources (sync_id, data, external_id) VALUES ('s', ?, ?)",
        [(bytes([n % 256]) * size, f"{n:0{key_chars}}") for n, size in enumerate(sizes)],
    )
    conn.execute("INSERT INTO v1_resources (sync_id, data, external_id) VALUES ('other', x'00', 'x')")
    return conn


def _read(conn: sqlite3.Connection) -> tuple[list[tuple[Any, ...]], _Recording]:
    recording = _Recording(conn)
    found = rows.iter_blobs(cast(sqlite3.Connection, recording), "v1_resources", "s", plain_columns=("external_id",))
    return list(found), recording


def _bytes(batch: list[tuple[Any, ...]]) -> int:
    return sum(len(row[1]) + len(row[2]) for row in batch)


def test_large_objects_come_in_batches_within_the_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rows, "BATCH_BYTES", 1 << 20)
    read, recording = _read(_table([300 << 10] * 20))
    assert [row[0] for row in read] == list(range(1, 21))
    assert all(row[1] == bytes([n % 256]) * (300 << 10) for n, row in enumerate(read))
    assert all(_bytes(batch) <= 1 << 20 for batch in recording.batches)
    assert [len(batch) for batch in recording.batches] == [3] * 6 + [2]


def test_long_keys_count_toward_the_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rows, "BATCH_BYTES", 1 << 20)
    read, recording = _read(_table([10] * 8, key_chars=400 << 10))
    assert len(read) == 8
    assert [len(batch) for batch in recording.batches] == [2] * 4


def test_a_row_over_the_byte_bound_is_still_read_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rows, "BATCH_BYTES", 1 << 20)
    read, recording = _read(_table([100, 2 << 20, 100]))
    assert [len(row[1]) for row in read] == [100, 2 << 20, 100]
    assert [len(batch) for batch in recording.batches] == [1, 1, 1]


def test_small_rows_come_a_thousand_a_batch() -> None:
    read, recording = _read(_table([200] * 2_500))
    assert [row[0] for row in read] == list(range(1, 2_501))
    assert [len(batch) for batch in recording.batches] == [1_000, 1_000, 500]
