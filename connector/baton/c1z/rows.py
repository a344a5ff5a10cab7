"""Row-level SQL shared by the writer and the reader: how objects map to columns and back.

Kept in one place so that the writer's upserts and the reader's selects can never disagree on a column.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

from connector.baton import ids
from connector.baton.annotations import type_url
from connector.baton.c1z.workfiles import WORKDIR_PREFIX
from connector.baton.gostrings import go_trim_space
from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2, entitlement_pb2, grant_pb2, resource_pb2

GRANT_EXPANDABLE_URL = type_url(annotation_grant_pb2.GrantExpandable)

# sqlite3 sends every bound value that is not an exact int, float, str or bytearray through its adapter protocol
# (CPython's Modules/_sqlite/cursor.c `need_adapt`): a miss in the adapter registry, then `PrepareProtocol.__adapt__`
# looked up on a type that has none, its AttributeError message formatted and dropped, then `__conform__`: about 3,300
# instructions a value. A resource row binds three such values (its blob and two NULL parent columns), a grant row two
# (its blob and a NULL expansion), on the store thread with the GIL held. An adapter in the registry is found at its
# first lookup, ~1,500 instructions a value: a 10k-user sync's store thread 235M -> 105M instructions there, -130M of
# 3.52G (issue 12). These two give back the very value, in C (`bytes` of an exact bytes object is that object; a
# dict's `get` of any key it lacks is None). Registering bytes or NoneType leaves the base types
# unadapted (only an adapter for int, float, str or bytearray turns adaptation on for all values), and what SQLite
# stores is unchanged. The registry is the sqlite3 module's, so this holds for every connection in the process.
_NOTHING: dict[None, None] = {}
sqlite3.register_adapter(bytes, bytes)
sqlite3.register_adapter(type(None), _NOTHING.get)
# SQLite's default limit on bound variables is far above this, and 1,000 rows per statement is what Go uses.
BATCH_ROWS = 1000
# The most bytes of values one batch of rows read back may hold (`iter_blobs`); real rows take a few hundred bytes,
# so a batch of them is BATCH_ROWS.
BATCH_BYTES = 32 << 20
# The most bytes one stored object (a row's `data` or `expansion`) may take. Real ones take hundreds (663 at most in
# the fixtures). A c1z is untrusted, and protobuf of tiny repeated fields decodes to ~30x its size in memory: a 27 KB
# file whose one resource was 50 MB of empty annotations took `inspect` 1.5 GB and 42 s. Larger ones are refused
# unread (SQLite never hands them over).
MAX_OBJECT_BYTES = 4 << 20
# The most bytes of objects and keys one batch of resources the sync engine reads back may take (`_Db.resources_after`),
# at least one row: the engine holds a batch decoded, at up to ~30x its size. Real resources take hundreds of bytes, so
# a batch of them is the engine's row count (200).
RESOURCE_BATCH_BYTES = MAX_OBJECT_BYTES
_REFUSED = -1
# The most bytes SQLite hands over, or works on, for any one value of a file (SQLITE_LIMIT_LENGTH, set by
# `guard_connection` on every connection to one): a larger one is SQLITE_TOOBIG before it is loaded. The largest value
# a c1z really holds is an unfinished sync's state token: at most 100,000 actions (state.MAX_ACTIONS) of a few
# hundred bytes. Without it, a 1 MB file whose token or id was 600 MB of one letter took `inspect` 1.2 GB.
MAX_VALUE_BYTES = 64 << 20
# What one file's sync runs may hold: every use of a file reads them all (to pick the run to show, resume or build
# on). Go keeps two (its keep-limit, c1z-format.md §2.3). A 1 MB file of 3 million runs took `inspect` 1.1 GB and
# three minutes, and a resume would have parsed each start time on the event loop.
MAX_SYNC_RUNS = 10_000
MAX_SYNC_RUN_FIELD = 1024  # characters of a sync id, a time or a type
MAX_SYNC_RUNS_TEXT = 64 << 20  # characters of all the runs' state tokens and stats together
# What one sync's resource types may take, objects and keys together, and how many there may be. Unlike the other
# tables' rows, which are read a batch at a time, a sync's resource types are held all at once, decoded (a resumed
# sync's engine, `inspect`'s summary and its --resources check): bounded per object only (MAX_OBJECT_BYTES), a 24 KB
# file of three resource types of 4 MiB of empty annotations each took `inspect` 390 MB, and fifteen (within the
# 64 MiB any file may decompress to) 1.7 GB. A connector has a handful of a few hundred bytes each (Datadog's: 7).
MAX_RESOURCE_TYPES_BYTES = 1 << 20
MAX_RESOURCE_TYPES = 10_000
# ... and the characters of all the resource type ids a sync's rows name, together (a connector's are a word or two;
# one long id is still shown whole). Counted per type (`C1ZReader.counts_by_type`, every `inspect`), the ids were held
# whole too, whatever their number and size: a 19 MB file naming a million types took `inspect` 660 MB and 10 s of CPU
# before printing 112 MB.
MAX_TYPE_IDS_CHARS = 4 << 20


def guard_connection(conn: sqlite3.Connection, db_path: Path) -> sqlite3.Connection:
    """`conn` to a file's database (`db_path`, a working file), with SQLite refusing any value over `MAX_VALUE_BYTES`
    (see `value_problem`), treating the file's schema as untrusted (`trusted_schema=OFF`: SQL in a view, trigger,
    index expression or default that the file brings may call no function with side effects) and keeping its own
    temp files where the working files are (`_sqlite_temp_files_beside`). The schema checks refuse triggers and
    views anyway; this build of SQLite trusts a schema by default, and a check missing one shape should not be
    the only line."""
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    conn.execute("PRAGMA trusted_schema=OFF")
    _sqlite_temp_files_beside(conn, db_path)
    return conn


_temp_directory_lock = threading.Lock()
_temp_directory: str | None = None


def _sqlite_temp_files_beside(conn: sqlite3.Connection, db_path: Path) -> None:
    """Make SQLite write its temp files (a sort that outgrows its cache spills: the grant index build at the end of
    every large sync, a GROUP BY of `inspect`) in the temp dir that holds the working directory of `db_path`
    (`BATON_C1Z_TEMP_DIR`, else the system's). SQLite picks its own otherwise ($SQLITE_TMPDIR, $TMPDIR, /var/tmp,
    /tmp): the sync's ids went to a disk the operator never named, which a read-only or small root filesystem
    refused or filled, and the failure was reported as "disk full" in the working directory, which had room.

    SQLite has one such directory per process (`temp_store_directory`), and changing it while another thread uses
    SQLite is undefined: it is set when the directory differs from the last one set, which in a run is once (the
    temp dir is a process-wide setting). A directory SQLite refuses (not writable) leaves SQLite's own choice.

    The pragma takes its value in the SQL text, which the sqlite3 module sends as UTF-8 (no parameter can be bound
    to a pragma): a directory whose name is not UTF-8 (any bytes, on Linux) is named by a descriptor held open on it,
    `/proc/self/fd/N` (`_open_directory`); passed as its own name, it raised UnicodeEncodeError and the spill files
    went to SQLite's own pick.
    """
    global _temp_directory, _held_directory
    parent = db_path.parent
    base = parent.parent if parent.name.startswith(WORKDIR_PREFIX) else parent
    wanted = os.path.abspath(base)
    with _temp_directory_lock:
        opened = None
        if _is_text(wanted):
            if wanted == _temp_directory:
                return
            named = wanted
        else:
            if _held_directory is not None and _still_holds(_held_directory, wanted):
                return
            opened = _open_directory(wanted)
            if opened is None:
                return
            named = f"/proc/self/fd/{opened}"
        quoted = named.replace("'", "''")
        try:
            conn.execute(f"PRAGMA temp_store_directory = '{quoted}'")
        except (sqlite3.Error, UnicodeEncodeError):
            if opened is not None:
                os.close(opened)
            return
        # The descriptor SQLite named until now is closed only once it names another directory: closed before, its
        # number could be reused for any file.
        if _held_directory is not None:
            os.close(_held_directory[1])
        _held_directory = None if opened is None else (wanted, opened)
        _temp_directory = named


# The temp dir whose name is not UTF-8 that SQLite names by a descriptor, and that descriptor: held open while SQLite
# names it, since it may put a spill file there at any later sort.
_held_directory: tuple[str, int] | None = None


def _is_text(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _still_holds(held: tuple[str, int], directory: str) -> bool:
    """Whether the descriptor held is on `directory` as it is now (not one removed and made again since)."""
    name, fd = held
    try:
        return name == directory and os.path.samestat(os.fstat(fd), os.stat(directory))
    except OSError:
        return False


def _open_directory(directory: str) -> int | None:
    """A descriptor on `directory` that SQLite can name as `/proc/self/fd/N` (ASCII); None without /proc."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    if not os.path.isdir(f"/proc/self/fd/{fd}"):
        os.close(fd)
        return None
    return fd


# What SQLite raises reading a damaged file: its own errors, and a UnicodeDecodeError when its message quotes bytes of
# the file that are not UTF-8. The sqlite3 module decodes SQLite's message as UTF-8 and raises that failure instead of
# the error: one flipped bit in the schema's SQL made every statement `malformed database schema (...) - near
# "UNIQUE\xa3INDEX"`, which escaped each `except sqlite3.Error` on a damaged file, and every sync into the file ended as
# "unexpected error: UnicodeDecodeError" (from the start-up check on), the file never started over.
SQLITE_ERRORS: tuple[type[sqlite3.Error], type[UnicodeDecodeError]] = (sqlite3.Error, UnicodeDecodeError)
_MESSAGE_BYTES = 1024  # SQLite's messages are a line; the rest of a text that was being decoded is not one


def value_problem(exc: Exception) -> str:
    """SQLite's error (one of `SQLITE_ERRORS`) in words for a message naming the file: SQLITE_TOOBIG is the file's
    value over the limit; a message that is not UTF-8 is given with its stray bytes escaped."""
    if getattr(exc, "sqlite_errorname", "") == "SQLITE_TOOBIG":
        return f"a value larger than {MAX_VALUE_BYTES >> 20} MiB"
    if isinstance(exc, UnicodeDecodeError):
        return bytes(exc.object[:_MESSAGE_BYTES]).decode("utf-8", "backslashreplace")
    return str(exc)


def object_column(column: str) -> str:
    """SQL reading an object column: the blob, NULL, or -1 in place of anything else (text, a number, a blob over
    `MAX_OBJECT_BYTES`), which is never fetched. `object_bytes` turns the -1 into a clear error."""
    return (
        f"CASE WHEN {column} IS NULL OR (typeof({column}) = 'blob' AND length({column}) <= {MAX_OBJECT_BYTES}) "
        f"THEN {column} ELSE {_REFUSED} END"
    )


def object_bytes(value: Any, table: str, row_id: Any) -> bytes:
    """An object read through `object_column`: its bytes, or a ValueError naming the row."""
    if isinstance(value, bytes):
        return value
    raise ValueError(f"{table} row {row_id} holds an object that is not a blob of at most {MAX_OBJECT_BYTES >> 20} MiB")


def optional_object_bytes(value: Any, table: str, row_id: Any) -> bytes | None:
    """As `object_bytes`, for a column that may be NULL (no object)."""
    return None if value is None else object_bytes(value, table, row_id)


@dataclass(frozen=True, slots=True)
class SyncRun:
    sync_id: str
    started_at: str
    ended_at: str | None
    sync_token: str
    sync_type: str
    parent_sync_id: str
    supports_diff: bool
    stats: str | None

    @property
    def finished(self) -> bool:
        return self.ended_at is not None


# Where each table's row (the functions below) holds what the store tallies of the rows it writes (connector/baton/c1z/
# tally.py): its key (`external_id`) and the columns it copies out of its object (`tally.COPIED_COLUMNS`, in that
# order), its object (`data`) and a grant's `expansion`.
TALLIED_COLUMNS: dict[str, tuple[tuple[int, ...], int] | tuple[tuple[int, ...], int, int]] = {
    "v1_resource_types": ((0,), 1),
    "v1_resources": ((1, 0, 2, 3), 4),
    "v1_entitlements": ((2, 0, 1), 3),
    "v1_grants": ((5, 2, 0, 1, 3, 4), 8, 6),
}


def resource_type_row(rt: resource_pb2.ResourceType, sync_id: str, now: str) -> tuple[Any, ...]:
    return (rt.id, rt.SerializeToString(deterministic=True), sync_id, now)


def resource_row(r: resource_pb2.Resource, sync_id: str, now: str) -> tuple[Any, ...]:
    # One call per resource: each field read through a upb sub-message costs ~0.1-0.2 µs, so the id is read once
    # and a resource without a parent skips the parent's reads (-14% of this function on a users page; issue 12).
    rid = r.id
    rtype = rid.resource_type
    parent_type = parent_id = None
    if r.HasField("parent_resource_id"):
        parent = r.parent_resource_id
        parent_type, parent_id = parent.resource_type, parent.resource
    return (
        rtype,
        ids.resource_key(rtype, rid.resource),
        parent_type,
        parent_id,
        r.SerializeToString(deterministic=True),
        sync_id,
        now,
    )


def entitlement_row(e: entitlement_pb2.Entitlement, sync_id: str, now: str) -> tuple[Any, ...]:
    return (
        e.resource.id.resource_type,
        e.resource.id.resource,
        e.id,
        e.SerializeToString(deterministic=True),
        sync_id,
        now,
    )


def grant_row(g: grant_pb2.Grant, sync_id: str, now: str) -> tuple[Any, ...]:
    """The grant's columns; a GrantExpandable annotation moves out of the blob into `expansion`.

    The hot path of a sync (one call per grant): most grants carry no annotation, so that case skips the scan.
    """
    expansion: bytes | None = None
    stored = g
    if len(g.annotations):
        expandable_at = [i for i, a in enumerate(g.annotations) if a.type_url == GRANT_EXPANDABLE_URL]
        if expandable_at:
            stored = grant_pb2.Grant()
            stored.CopyFrom(g)
            ge = annotation_grant_pb2.GrantExpandable()
            g.annotations[expandable_at[0]].Unpack(ge)
            for index in reversed(expandable_at):
                del stored.annotations[index]
            # Go keeps the expansion when an id is not blank by `strings.TrimSpace` (`extractAndStripExpansion`):
            # Python's strip() also takes U+001C..U+001F, and an id of them was stored as no expansion at all.
            if any(go_trim_space(eid) for eid in ge.entitlement_ids):
                expansion = ge.SerializeToString(deterministic=True)
    entitlement = g.entitlement
    resource = entitlement.resource.id
    principal = g.principal.id
    return (
        resource.resource_type,
        resource.resource,
        entitlement.id,
        principal.resource_type,
        principal.resource,
        g.id,
        expansion,
        1 if expansion else 0,
        stored.SerializeToString(deterministic=True),
        sync_id,
        now,
    )


# Where each table's row holds its key and its objects (a grant's `expansion` beside its `data`), for `oversized`.
_KEY_AND_OBJECTS: dict[str, tuple[int, tuple[int, ...]]] = {
    table: (columns[0][0], tuple(columns[1:])) for table, columns in TALLIED_COLUMNS.items()
}


def key_column(table: str) -> int:
    """Where a row of `table` holds its key (`external_id`)."""
    return _KEY_AND_OBJECTS[table][0]


def oversized(table: str, values: Sequence[tuple[Any, ...]]) -> list[int]:
    """The positions of the rows of `table` whose object (a grant's expansion too) takes more than MAX_OBJECT_BYTES:
    the most any reader of a c1z takes back (`object_bytes`), this project's own included. Checked where the rows are
    built, before any is stored: a sync stored a Datadog team of a 5 MB name whole, then refused its own working file
    as damaged reading it back ("v1_resources row 6 holds an object that is not a blob of at most 4 MiB"), and a user
    of a 5 MB title was saved in a file `inspect` then refused."""
    found: set[int] = set()
    for at in _KEY_AND_OBJECTS[table][1]:
        # In C first: this runs for every page a sync stores (issue 12).
        if max(map(len, filter(None, map(itemgetter(at), values))), default=0) > MAX_OBJECT_BYTES:
            found.update(i for i, value in enumerate(values) if len(value[at] or b"") > MAX_OBJECT_BYTES)
    return sorted(found)


def fits(message: resource_pb2.Resource) -> bool:
    """Whether the store keeps `message` (`oversized`: its serialized object within MAX_OBJECT_BYTES), known before it
    is stored: the engine lists a parent's children from the page it received, and a parent left out had its children
    stored naming a parent not in the file. One C call (upb's size, no copy), asked of parents only."""
    return message.ByteSize() <= MAX_OBJECT_BYTES


UPSERT_RESOURCE_TYPE = """
INSERT INTO v1_resource_types (external_id, data, sync_id, discovered_at) VALUES (?, ?, ?, ?)
ON CONFLICT (external_id, sync_id) DO UPDATE SET data = excluded.data"""

UPSERT_RESOURCE = """
INSERT INTO v1_resources (resource_type_id, external_id, parent_resource_type_id, parent_resource_id,
                          data, sync_id, discovered_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (external_id, sync_id) DO UPDATE SET data = excluded.data"""

# The load's form while the unique index is deferred (schema.DEFERRED_RESOURCE_INDEXES): a resource stored twice is two
# rows until `merge_duplicate_resources` applies UPSERT_RESOURCE's update to them.
INSERT_RESOURCE = """
INSERT INTO v1_resources (resource_type_id, external_id, parent_resource_type_id, parent_resource_id,
                          data, sync_id, discovered_at)
VALUES (?, ?, ?, ?, ?, ?, ?)"""

UPSERT_ENTITLEMENT = """
INSERT INTO v1_entitlements (resource_type_id, resource_id, external_id, data, sync_id, discovered_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (external_id, sync_id) DO UPDATE SET data = excluded.data"""

# Go's replace mode: take the new expansion and recompute needs_expansion from old and new.
UPSERT_GRANT = """
INSERT INTO v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id,
                       principal_resource_id, external_id, expansion, needs_expansion, data, sync_id,
                       discovered_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (external_id, sync_id) DO UPDATE SET
    data = excluded.data,
    needs_expansion = CASE
        WHEN excluded.expansion IS NULL OR length(excluded.expansion) = 0 THEN 0
        WHEN v1_grants.expansion IS NULL THEN 1
        WHEN v1_grants.expansion != excluded.expansion THEN 1
        ELSE v1_grants.needs_expansion
    END,
    expansion = excluded.expansion"""

# The load's form while the unique (external_id, sync_id) index is deferred (schema.DEFERRED_INDEXES): a grant
# stored twice is two rows until `merge_duplicate_grants` applies UPSERT_GRANT's update to them.
INSERT_GRANT = """
INSERT INTO v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id,
                       principal_resource_id, external_id, expansion, needs_expansion, data, sync_id,
                       discovered_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""


def _stored_more_than_once(conn: sqlite3.Connection, table: str, columns: str) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of `table` whose (external_id, sync_id) is stored more than once, one list per key in id (insertion)
    order: (id, external_id, sync_id, *columns). Only those rows are read."""
    found = conn.execute(
        f"SELECT id, external_id, sync_id{columns} FROM {table} "  # noqa: S608 - our table and column names
        "WHERE (external_id, sync_id) IN "
        f"(SELECT external_id, sync_id FROM {table} GROUP BY external_id, sync_id HAVING count(*) > 1) "
        "ORDER BY external_id, sync_id, id"
    ).fetchall()
    for _, group in itertools.groupby(found, key=lambda row: (row[1], row[2])):
        yield list(group)


def merge_duplicate_resources(conn: sqlite3.Connection) -> int:
    """Leave each (external_id, sync_id) of `v1_resources` in one row, as UPSERT_RESOURCE would have; returns rows
    dropped. The upsert keeps the first row (its id, columns and discovered_at) and takes the last write's data."""
    dropped = 0
    for first, *later in _stored_more_than_once(conn, "v1_resources", ""):
        conn.execute(
            "UPDATE v1_resources SET data = (SELECT data FROM v1_resources WHERE id = ?) WHERE id = ?",
            (later[-1][0], first[0]),
        )
        conn.executemany("DELETE FROM v1_resources WHERE id = ?", [(row[0],) for row in later])
        dropped += len(later)
    return dropped


def merge_duplicate_grants(conn: sqlite3.Connection) -> int:
    """Leave each (external_id, sync_id) of `v1_grants` in one row, as UPSERT_GRANT would have; returns rows dropped.

    The upsert keeps the first row (its id, columns and discovered_at) and takes each later write's data and
    expansion, with needs_expansion recomputed from the old and new expansion at every step, so the rows are
    folded in id (insertion) order.
    """
    dropped = 0
    for first, *later in _stored_more_than_once(conn, "v1_grants", ", expansion, needs_expansion"):
        expansion, needs = first[3], first[4]
        for row in later:
            new = row[3]  # written by `grant_row`: bytes or None
            if not new:
                needs = 0
            elif expansion is None or expansion != new:
                needs = 1
            expansion = new
        conn.execute(
            "UPDATE v1_grants SET data = (SELECT data FROM v1_grants WHERE id = ?), expansion = ?, "
            "needs_expansion = ? WHERE id = ?",
            (later[-1][0], expansion, needs, first[0]),
        )
        conn.executemany("DELETE FROM v1_grants WHERE id = ?", [(row[0],) for row in later])
        dropped += len(later)
    return dropped


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def read_sync_runs(conn: sqlite3.Connection) -> list[SyncRun]:
    """Every sync run, oldest first. Columns an older SDK did not have read as their defaults.

    Values of the wrong type (a file is untrusted) raise `ValueError` naming the row.
    """
    have = columns(conn, "v1_sync_runs")
    optional = {
        "sync_type": "'full'",
        "parent_sync_id": "''",
        "supports_diff": "0",
        "stats": "NULL",
    }
    expressions = {name: name if name in have else default for name, default in optional.items()}
    _check_sync_run_sizes(conn, expressions)
    picked = ", ".join(expressions.values())
    sql = f"SELECT id, sync_id, started_at, ended_at, sync_token, {picked} FROM v1_sync_runs ORDER BY id"  # noqa: S608
    runs = []
    for row in conn.execute(sql):
        texts = (row[1], row[2], row[4], row[5], row[6])
        if not all(isinstance(v, str) for v in texts) or not isinstance(row[3], str | None):
            raise ValueError(f"v1_sync_runs row {row[0]} holds a value of the wrong type")
        if not isinstance(row[8], str | None):
            raise ValueError(f"v1_sync_runs row {row[0]}: stats is not text")
        runs.append(
            SyncRun(
                sync_id=row[1],
                started_at=row[2],
                ended_at=row[3],
                sync_token=row[4],
                sync_type=row[5],
                parent_sync_id=row[6],
                supports_diff=bool(row[7]),
                stats=row[8],
            )
        )
    return runs


def _check_sync_run_sizes(conn: sqlite3.Connection, expressions: dict[str, str]) -> None:
    """Raise `ValueError` when the sync runs would not fit the bounds above: checked in SQL, before any is read."""
    short = ", ".join(
        f"coalesce(length({column}), 0)"
        for column in ("sync_id", "started_at", "ended_at", expressions["sync_type"], expressions["parent_sync_id"])
    )
    text = f"coalesce(length(sync_token), 0) + coalesce(length({expressions['stats']}), 0)"
    count, longest, total = conn.execute(
        f"SELECT count(*), max(max({short})), total({text}) FROM v1_sync_runs"  # noqa: S608 - our SQL
    ).fetchone()
    if count > MAX_SYNC_RUNS:
        raise ValueError(f"v1_sync_runs holds {count:,} sync runs, more than the {MAX_SYNC_RUNS:,} a c1z may hold")
    if (longest or 0) > MAX_SYNC_RUN_FIELD:
        row = conn.execute(
            f"SELECT id FROM v1_sync_runs WHERE max({short}) > ? ORDER BY id LIMIT 1",  # noqa: S608 - our SQL
            (MAX_SYNC_RUN_FIELD,),
        ).fetchone()
        raise ValueError(
            f"v1_sync_runs row {row[0]} holds a sync id, time or type longer than {MAX_SYNC_RUN_FIELD:,} characters"
        )
    if total > MAX_SYNC_RUNS_TEXT:
        raise ValueError(
            f"v1_sync_runs: the state tokens and stats of its {count:,} sync runs take more than "
            f"{MAX_SYNC_RUNS_TEXT >> 20} MiB"
        )


def check_resource_types_size(conn: sqlite3.Connection, sync_id: str) -> None:
    """Raise `ValueError` when the resource types of `sync_id` would not fit the bounds on what is held at once
    (`MAX_RESOURCE_TYPES_BYTES`, `MAX_RESOURCE_TYPES`): counted in SQL, before any is read."""
    count, size = conn.execute(
        "SELECT count(*), total(coalesce(length(data), 0) + coalesce(length(CAST(external_id AS BLOB)), 0)) "
        "FROM v1_resource_types NOT INDEXED WHERE sync_id = ?",
        (sync_id,),
    ).fetchone()
    if count > MAX_RESOURCE_TYPES:
        raise ValueError(
            f"v1_resource_types holds {count:,} resource types of one sync, more than the {MAX_RESOURCE_TYPES:,} "
            "a c1z may hold"
        )
    if size > MAX_RESOURCE_TYPES_BYTES:
        raise ValueError(
            f"v1_resource_types: the resource types of one sync take {int(size):,} bytes, more than the "
            f"{MAX_RESOURCE_TYPES_BYTES >> 20} MiB a c1z's may take"
        )


def types_outside(conn: sqlite3.Connection, known: Collection[str], limit: int) -> list[str]:
    """Up to `limit` resource type ids the file names, in any of its syncs, that are not in `known`, sorted: a file of
    another connector holds its own types. Each is cut to 64 characters (a file's value is untrusted). Read from the
    tables, not their indexes (see `iter_blobs`)."""
    marks = ", ".join("?" * len(known)) or "NULL"
    query = (
        "SELECT DISTINCT substr(type_id, 1, 64) FROM (SELECT external_id AS type_id FROM v1_resource_types "  # noqa: S608
        f"NOT INDEXED UNION SELECT resource_type_id FROM v1_resources NOT INDEXED) WHERE type_id NOT IN ({marks}) LIMIT ?"
    )
    return sorted(str(row[0]) for row in conn.execute(query, (*known, limit)))


def latest_finished(runs: Sequence[SyncRun], sync_type: str | None = None) -> SyncRun | None:
    """The newest finished sync (of `sync_type`, when given): newest ended_at, ties broken by sync id."""
    finished = [r for r in runs if r.finished and sync_type in (None, r.sync_type)]
    return max(finished, key=lambda r: (r.ended_at or "", r.sync_id), default=None)


def latest_finished_full(runs: Sequence[SyncRun]) -> SyncRun | None:
    """The sync Go readers use by default."""
    return latest_finished(runs, "full")


def default_sync(runs: Sequence[SyncRun]) -> SyncRun | None:
    """Latest finished full sync, else the newest unfinished one (what Go's List* calls pick)."""
    chosen = latest_finished_full(runs)
    if chosen is not None:
        return chosen
    unfinished = [r for r in runs if not r.finished]
    return max(unfinished, key=lambda r: (r.started_at, r.sync_id), default=None)


def iter_blobs(
    conn: sqlite3.Connection,
    table: str,
    sync_id: str,
    where: str = "",
    params: Sequence[Any] = (),
    extra_column: str = "",  # a nullable object column, e.g. "expansion"
    plain_columns: Sequence[str] = (),
) -> Iterator[tuple[Any, ...]]:
    """Rows of one sync in id order, fetched by keyset pages so memory stays flat for any row count: (id, data,
    extra, *plain) with each object read through `object_column` and checked (a ValueError naming the row
    otherwise), and the plain columns as they are.

    Read from the table itself (`NOT INDEXED`), as every count and listing of a file's rows is (`types_outside`,
    `C1ZReader.counts_by_type`): a file's index is untrusted as its tables are, and the opening's `quick_check` does not
    compare it with its table. Through a damaged index lacking rows, `inspect --resources user` listed 22 of 23 users
    and its summary counted half the grants, exit 0. (The store rebuilds an opened file's indexes: `_Db.rebuild_indexes`.)
    A page is a range of row ids, so the table is read once over the whole listing."""
    last_id = 0
    select = f"id, {object_column('data')}{', ' + object_column(extra_column) if extra_column else ''}"
    select += "".join(f", {column}" for column in plain_columns)
    condition = f" AND ({where})" if where else ""
    measured = " + ".join(f"coalesce(length({c}), 0)" for c in ("data", extra_column, *plain_columns) if c)
    sizes = (
        f"SELECT id, {measured} AS size FROM {table} NOT INDEXED WHERE sync_id = ? AND id > ?{condition} "  # noqa: S608
        "ORDER BY id LIMIT ?"
    )
    # The next BATCH_ROWS rows' last id and their values' bytes in one answer, summed by SQLite (lengths of blobs are
    # read from their headers): row by row in Python, the sizes cost a resume's check half as much again.
    whole = f"SELECT max(id), sum(size) FROM ({sizes})"  # noqa: S608
    sql = f"SELECT {select} FROM {table} NOT INDEXED WHERE sync_id = ? AND id > ? AND id <= ?{condition} ORDER BY id"  # noqa: S608
    while True:
        end, size = conn.execute(whole, (sync_id, last_id, *params, BATCH_ROWS)).fetchone()
        if end is None:
            return
        if size > BATCH_BYTES:
            end = batch_end(conn.execute(sizes, (sync_id, last_id, *params, BATCH_ROWS)), BATCH_BYTES)
        for row in conn.execute(sql, (sync_id, last_id, end, *params)).fetchall():
            extra = (optional_object_bytes(row[2], table, row[0]),) if extra_column else ()
            yield (row[0], object_bytes(row[1], table, row[0]), *extra, *row[2 + len(extra) :])
        last_id = end


def batch_end(sizes: Iterable[tuple[int, int]], budget: int) -> int:
    """The id of the last row of the next batch, from (id, bytes of its values) in id order, at least one: at most
    `budget` bytes of values, and at least one row. A c1z is untrusted: 1,000 rows of 4 MiB objects (or of 64 MiB keys) in
    one fetch were gigabytes, from a file of a few megabytes."""
    end, total = None, 0
    for row_id, size in sizes:
        if end is not None and total + size > budget:
            break
        end, total = row_id, total + size
    assert end is not None, "SQLite counted rows the same statement then did not list"
    return end
