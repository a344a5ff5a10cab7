"""Blobs and NULLs bind through sqlite3's adapter registry as themselves (`rows` registers the two identity adapters).

Without them every bytes or None value a row binds took sqlite3's slow adaptation path (a registry miss, a formatted
and dropped AttributeError for `PrepareProtocol.__adapt__`, a `__conform__` lookup): ~3,300 instructions a value
(~1,500 with the adapters), three per resource row and two per grant row (issue 12). What is stored must not change.
"""

from __future__ import annotations

import sqlite3

from connector.baton.c1z import rows


def test_bytes_and_none_have_identity_adapters_found_in_the_registry() -> None:
    assert rows.BATCH_ROWS  # the module that registers them is imported
    blob = b"\x00\xff\x80 not text"
    for value in (blob, b"", None):
        adapter = sqlite3.adapters[(type(value), sqlite3.PrepareProtocol)]
        assert adapter(value) is value


def test_the_base_types_stay_unadapted() -> None:
    # An adapter for int, float, str or bytearray would switch adaptation on for every value bound (sqlite3's
    # `BaseTypeAdapted`), the opposite of the point.
    for kind in (int, float, str, bytearray):
        assert (kind, sqlite3.PrepareProtocol) not in sqlite3.adapters


def test_blobs_nulls_and_subclasses_store_as_before() -> None:
    class Tagged(bytes):
        """A bytes subclass is not the registered type: it still goes the general way, as before."""

    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE TABLE t (a, b, c)")
        conn.executemany(
            "INSERT INTO t VALUES (?, ?, ?)",
            [(b"\x00blob", None, Tagged(b"sub")), (b"", None, "text"), (None, b"x" * 70_000, 7)],
        )
        got = conn.execute("SELECT a, typeof(a), b, typeof(b), c, typeof(c) FROM t ORDER BY rowid").fetchall()
    finally:
        conn.close()
    assert got == [
        (b"\x00blob", "blob", None, "null", b"sub", "blob"),
        (b"", "blob", None, "null", "text", "text"),
        (None, "null", b"x" * 70_000, "blob", 7, "integer"),
    ]
