"""What an unfinished sync's state token records of the rows its pages stored, to check them when it resumes.

The token claims the pages its run stored: a run resumed over a file whose rows were changed since (a tool, a hand-edit,
a salvage) never lists those pages again, and was saved as complete with the file's rows in place of its own. So the
store keeps, per table, a tally of the active sync's rows as it wrote them, commits it inside each token
(`STORED_ROWS_KEY`), and on a resume compares it with the rows it finds. A count alone passed a deletion balanced by as
many added rows; the tally is the rows' count, their highest row id, the sum of their row ids and a CRC-32 of their keys
(`external_id`) in row id order. A sync only appends rows (each new row's id is the table's highest plus one; an upsert
keeps its row's id and key), so a page extends the tally from the values in hand, without reading anything back
(about 0.25 µs a row with the token's JSON: docs/c1z.md, "Resuming"). A row deleted, added, re-keyed or moved to another
id changes it; an object edited in place under its id and key does not (the resume checks each object is the one its
key names: `_Db._check_objects`).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the engine reads a token's tally without loading the SQLite layer
    import sqlite3

# The tables tallied, and the token key the tally is recorded under (prefixed like the engine's settings key, so a
# later Go field cannot clash). Go decodes the token (c1z-format.md §2.7) with encoding/json into a struct, which skips
# keys the struct lacks, whatever their value.
TALLIED_TABLES = ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")
STORED_ROWS_KEY = "py_stored_rows"
_FIELDS = ("rows", "last_id", "id_sum", "keys_crc32")
_ID_SUM_MODULUS = 1 << 64  # the sum stays a 64-bit number in the token, whatever the ids
# Rows read back per step, and the characters of a key tallied: a file's key may be 64 MiB (SQLite's limit on a value),
# and a step of them would all be in memory at once. Real keys take tens to hundreds.
_CHUNK = 1000
_KEY_CHARS = 1024


@dataclass(frozen=True, slots=True)
class Tally:
    """One table's rows of a sync: how many, the highest row id, the sum of the ids, a CRC-32 of the keys in id order."""

    rows: int = 0
    last_id: int = 0
    id_sum: int = 0
    keys_crc32: int = 0

    def appended(self, first_id: int, keys: Sequence[object]) -> Tally:
        """This tally after `len(keys)` rows with the ids `first_id`, `first_id + 1`, ... (an insert's new rows)."""
        n = len(keys)
        if not n:
            return self
        return Tally(
            self.rows + n,
            max(self.last_id, first_id + n - 1),
            (self.id_sum + n * first_id + n * (n - 1) // 2) % _ID_SUM_MODULUS,
            zlib.crc32(_stream(keys), self.keys_crc32),
        )

    def extended(self, rows: Sequence[tuple[Any, ...]]) -> Tally:
        """This tally after `rows` of (id, key), in id order, each above the ids tallied so far."""
        if not rows:
            return self
        ids, keys = zip(*rows, strict=True)  # ids are integers: each table's `id` is its INTEGER PRIMARY KEY
        return Tally(
            self.rows + len(rows),
            max(self.last_id, ids[-1]),
            (self.id_sum + sum(ids)) % _ID_SUM_MODULUS,
            zlib.crc32(_stream(keys), self.keys_crc32),
        )

    def to_json(self) -> dict[str, int]:
        return {"rows": self.rows, "last_id": self.last_id, "id_sum": self.id_sum, "keys_crc32": self.keys_crc32}


def _stream(keys: Sequence[object]) -> bytes:
    # Each key (its first `_KEY_CHARS`) and a NUL after it, so pages tallied one by one make the same CRC as the whole
    # table read back. A key of another type (a damaged file's NULL or blob) is tallied by its text: it is never one a
    # page stored.
    try:
        if max(map(len, keys), default=0) > _KEY_CHARS:  # type: ignore[arg-type]
            keys = [key[:_KEY_CHARS] for key in keys]  # type: ignore[index]
        text = "\0".join(keys)  # type: ignore[arg-type]
    except TypeError:
        text = "\0".join((key if isinstance(key, str) else repr(key))[:_KEY_CHARS] for key in keys)
    return (text + "\0").encode("utf-8", "surrogatepass")


def of_file(conn: sqlite3.Connection, table: str, sync_id: str) -> Tally:
    """The tally of the sync's rows of `table` as the file holds them (a pass over the table, in row id order)."""
    tally = Tally()
    found = conn.execute(
        f"SELECT id, substr(external_id, 1, {_KEY_CHARS}) FROM {table} WHERE sync_id = ? ORDER BY id",  # noqa: S608
        (sync_id,),
    )
    while chunk := found.fetchmany(_CHUNK):
        tally = tally.extended(chunk)
    return tally


def encoded(tallies: dict[str, Tally]) -> dict[str, dict[str, int]]:
    """The token's record of `tallies`."""
    return {table: tally.to_json() for table, tally in tallies.items()}


def recorded(record: object) -> dict[str, Tally] | None:
    """The tallies a token's `STORED_ROWS_KEY` value records for every tallied table; None when it records none usable:
    Go's tokens and older writers' record none, or only counts (the token is a file's bytes: anything else is none)."""
    if not isinstance(record, dict):
        return None
    out = {}
    for table in TALLIED_TABLES:
        fields = record.get(table)
        if not isinstance(fields, dict):
            return None
        values = [fields.get(name) for name in _FIELDS]
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 1 << 64 for v in values):
            return None
        out[table] = Tally(*values)  # type: ignore[arg-type]
    return out


def difference(table: str, found: Tally, claimed: Tally) -> str | None:
    """How the rows found differ from those the state records stored, described; None when they are the same."""
    if found == claimed:
        return None
    if found.rows < claimed.rows:
        return (
            f"{table} holds {found.rows} rows of the sync where its state records {claimed.rows} stored: rows were "
            "deleted since, and the pages the state claims would be saved without them"
        )
    if found.rows > claimed.rows:
        return (
            f"{table} holds {found.rows} rows of the sync where its state records {claimed.rows} stored: rows were "
            "added since, which no page of the run stored, and the sync would be saved with them"
        )
    return (
        f"{table} holds {found.rows} rows of the sync, as its state records, but not the ones its pages stored: rows "
        "were replaced or changed since, and the sync would be saved with them"
    )
