"""What an unfinished sync's state token records of the rows its pages stored, to check them when it resumes.

The token claims the pages its run stored: a run resumed over a file whose rows were changed since (a tool, a hand-edit,
a salvage) never lists those pages again, and was saved as complete with the file's rows in place of its own. So the
store keeps, per table, a tally of the active sync's rows as it wrote them, commits it inside each token
(`STORED_ROWS_KEY`), and on a resume compares it with the rows it finds. A count alone passed a deletion balanced by as
many added rows; the tally is the rows' count, their highest row id, the sum of their row ids, a CRC-32 of their keys
(`external_id`) and of the columns they copy out of their objects (`COPIED_COLUMNS`) in row id order, and the sum of each
row's CRC-32 of its values (its object, `data`, and a grant's `expansion`). A sync only appends rows (each new row's id is the table's highest plus one), so a
page extends the tally from the bytes in hand, without reading anything back (docs/c1z.md, "Resuming", gives the cost a
row). An upsert keeps its row's id and key but may replace its values: the values are summed row by row, not chained in
id order, so the store takes the old row's term out and puts the new one's in (`revalued`) without a pass over the
table. A row deleted, added, re-keyed, moved to another id or edited in place (an object whose key and id are kept:
`_Db._check_objects` passes it; a copied column, which an upsert keeps as first written and so cannot be checked against
the object) changes the tally.
"""

from __future__ import annotations

import dataclasses
import itertools
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the engine reads a token's tally without loading the SQLite layer
    import sqlite3

# The tables tallied, and the token key the tally is recorded under (prefixed like the engine's settings key, so a
# later Go field cannot clash). Go decodes the token (c1z-format.md §2.7) with encoding/json into a struct, which skips
# keys the struct lacks, whatever their value.
TALLIED_TABLES = ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")
STORED_ROWS_KEY = "py_stored_rows"
# The nullable column tallied with a table's object (`data`): a grant's expansion, which makes grants of its own.
EXTRA_COLUMN = {"v1_grants": "expansion"}
# The columns a table's rows copy out of their objects, tallied after the key in this order: readers find and join rows
# by them without decoding the object (a grant whose `resource_id` was edited was dropped as dangling when the resumed
# run was saved, though the org has it). An upsert keeps them as first written (rows.UPSERT_RESOURCE, as Go's), so they
# may differ from the object by right and are tallied, not checked against it.
COPIED_COLUMNS = {
    "v1_resource_types": (),
    "v1_resources": ("resource_type_id", "parent_resource_type_id", "parent_resource_id"),
    "v1_entitlements": ("resource_type_id", "resource_id"),
    "v1_grants": (
        "entitlement_id",
        "resource_type_id",
        "resource_id",
        "principal_resource_type_id",
        "principal_resource_id",
    ),
}
# A token of ours that records other fields (an earlier version's: before `values_sum`, or `keys_crc32` of the keys
# alone) records no usable tally: its run starts over (`recorded`).
_FIELDS = ("rows", "last_id", "id_sum", "columns_crc32", "values_sum")
_SUM_MODULUS = 1 << 64  # the sums stay 64-bit numbers in the token, whatever the ids and rows
# Rows tallied per step, and the characters of a key or column tallied: a file's key may be 64 MiB (SQLite's limit on a
# value), and a step of them would all be in memory at once. Real keys take tens to hundreds.
_CHUNK = 1000
_KEY_CHARS = 1024
# A NULL column (a resource without a parent) in the tallied text: a control character that no id we write holds, so a
# parent removed or added changes the CRC (only a column edited from NULL to this very character would pass).
_NULL = "\x01"


@dataclass(frozen=True, slots=True)
class Tally:
    """One table's rows of a sync: how many, the highest row id, the sum of the ids, a CRC-32 of the keys and copied
    columns in id order, the sum of the rows' values' CRC-32s (`_values_sum`)."""

    rows: int = 0
    last_id: int = 0
    id_sum: int = 0
    columns_crc32: int = 0
    values_sum: int = 0

    def appended(
        self, first_id: int, columns: Sequence[object], objects: Sequence[bytes], extras: Sequence[bytes | None] = ()
    ) -> Tally:
        """This tally after `len(objects)` rows with the ids `first_id`, `first_id + 1`, ... (an insert's new rows),
        their key and copied columns `columns` (each row's in turn, `COPIED_COLUMNS`), their objects `objects` and, for
        grants, their expansions `extras`."""
        n = len(objects)
        if not n:
            return self
        return Tally(
            self.rows + n,
            max(self.last_id, first_id + n - 1),
            (self.id_sum + n * first_id + n * (n - 1) // 2) % _SUM_MODULUS,
            zlib.crc32(_stream(columns), self.columns_crc32),
            (self.values_sum + _values_sum(range(first_id, first_id + n), objects, extras)) % _SUM_MODULUS,
        )

    def extended(self, table: str, rows: Sequence[tuple[Any, ...]]) -> Tally:
        """This tally after `rows` of `table` as `selected(table)` reads them, in id order, each above the ids tallied
        so far."""
        if not rows:
            return self
        extra = table in EXTRA_COLUMN
        ids, objects, *rest = zip(*rows, strict=True)
        columns = list(itertools.chain.from_iterable(row[2 + extra :] for row in rows))
        # ids are integers: each table's `id` is its INTEGER PRIMARY KEY
        return Tally(
            self.rows + len(ids),
            max(self.last_id, ids[-1]),
            (self.id_sum + sum(ids)) % _SUM_MODULUS,
            zlib.crc32(_stream(columns), self.columns_crc32),
            (self.values_sum + _values_sum(ids, objects, rest[0] if extra else ())) % _SUM_MODULUS,
        )

    def revalued(self, before: Sequence[tuple[Any, ...]], after: Sequence[tuple[Any, ...]]) -> Tally:
        """This tally after rows already tallied, (id, object[, expansion]) as `before`, were updated in place to
        `after` (an upsert: same ids, same keys)."""
        if not before and not after:
            return self

        def summed(rows: Sequence[tuple[Any, ...]]) -> int:
            if not rows:
                return 0
            ids, objects, *extras = zip(*rows, strict=True)
            return _values_sum(ids, objects, extras[0] if extras else ())

        return dataclasses.replace(self, values_sum=(self.values_sum - summed(before) + summed(after)) % _SUM_MODULUS)

    def to_json(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _FIELDS}


def _values_sum(ids: Iterable[int], objects: Sequence[bytes], extras: Sequence[bytes | None]) -> int:
    """The sum of the rows' objects' CRC-32s and their expansions' (a grant's, where it has one), each expansion's begun
    from its row id (zlib takes the id's low 32 bits). An object names its own key (`_Db._check_objects`), so moved to
    another row it is caught there; an expansion names nothing. A sum, not a chain in id order, so an upsert's row can
    be taken out and put back (`revalued`); zlib computes each term and `map`, `filter` and `compress` run over the rows
    in C, without a Python step a row."""
    summed = sum(map(zlib.crc32, objects))
    if extras:
        summed += sum(map(zlib.crc32, filter(None, extras), itertools.compress(ids, extras)))
    return summed


def _stream(columns: Sequence[object]) -> bytes:
    # Each column (its first `_KEY_CHARS`) and a NUL after it, so pages tallied one by one make the same CRC as the whole
    # table read back. A column of another type (a damaged file's blob or number) is tallied by its text: it is never
    # one a page stored.
    try:
        if None in columns:
            columns = [_NULL if column is None else column for column in columns]
        if max(map(len, columns), default=0) > _KEY_CHARS:  # type: ignore[arg-type]
            columns = [column[:_KEY_CHARS] for column in columns]  # type: ignore[index]
        text = "\0".join(columns)  # type: ignore[arg-type]
    except TypeError:
        text = "\0".join((column if isinstance(column, str) else repr(column))[:_KEY_CHARS] for column in columns)
    return (text + "\0").encode("utf-8", "surrogatepass")


def selected(table: str) -> str:
    """The columns of `table` a tally is made of, as `Tally.extended` takes them: id, object[, expansion], then the key
    and the copied columns, each cut to what is tallied of it."""
    plain = ", ".join(f"substr({column}, 1, {_KEY_CHARS})" for column in ("external_id", *COPIED_COLUMNS[table]))
    return f"id, data, {EXTRA_COLUMN[table] + ', ' if table in EXTRA_COLUMN else ''}{plain}"


def of_file(conn: sqlite3.Connection, table: str, sync_id: str) -> Tally:
    """The tally of the sync's rows of `table` as the file holds them (a pass over the table, in row id order). Raises
    ValueError for a row whose object is not a blob of the bounded size (`rows.iter_blobs`: a resume has refused such a
    file before it tallies)."""
    from connector.baton.c1z import rows  # the SQLite layer, which the engine's import of this module does not load

    tally = Tally()
    plain = [f"substr({column}, 1, {_KEY_CHARS})" for column in ("external_id", *COPIED_COLUMNS[table])]
    found = rows.iter_blobs(
        conn, table, sync_id, extra_column=EXTRA_COLUMN.get(table, ""), plain_columns=plain
    )  # as `selected(table)`, in id order, a bounded batch of bytes at a time
    while chunk := list(itertools.islice(found, _CHUNK)):
        tally = tally.extended(table, chunk)
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
