"""Read-only access to a c1z file, Go-written or ours: sync runs, counts and decoded rows.

A c1z is untrusted input (issue 11 §9): every way it can be wrong — not a regular file, bad magic, a
truncated or oversized zstd body, a damaged database, missing tables or columns, a row of the wrong type,
a blob that does not decode — surfaces as one `C1ZFormatError` naming the file and what was wrong.
The reader blocks (decompression, SQLite): it is for CLIs, tests and worker threads, not the event loop.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import cast

from google.protobuf.message import DecodeError

from connector.baton.c1z import rows
from connector.baton.c1z.envelope import decompress_to
from connector.baton.c1z.errors import C1ZFormatError, check_stop
from connector.baton.c1z.schema import check_readable, connect_read_only, stop_when, stored_columns
from connector.baton.c1z.workfiles import WorkDir
from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2, entitlement_pb2, grant_pb2, resource_pb2


class C1ZReader:
    """Opens a c1z by decompressing it into a private, locked temp directory; use as a context manager."""

    def __init__(self, c1z_path: Path, tmp_dir: Path | None = None, stop: threading.Event | None = None) -> None:
        """`stop` set while the file is unpacked and checked (its reader gave up waiting): `OpeningStopped` soon."""
        self.path = c1z_path
        self._workdir = WorkDir.create(tmp_dir, "read")
        db_path = self._workdir.path / "sync.db"
        try:
            decompress_to(c1z_path, db_path, stop)
            check_readable(db_path, c1z_path, stop)
            self._conn = connect_read_only(db_path)
            self._grant_columns = rows.columns(self._conn, "v1_grants")
        except BaseException:
            self._workdir.release()
            raise

    @contextmanager
    def _decoding(self, what: str) -> Iterator[None]:
        try:
            yield
        except C1ZFormatError:
            raise
        except rows.SQLITE_ERRORS as exc:
            raise C1ZFormatError(f"{self.path}: cannot read {what}: {rows.value_problem(exc)}") from exc
        except (DecodeError, ValueError, TypeError, OverflowError) as exc:
            raise C1ZFormatError(f"{self.path}: cannot read {what}: {exc}") from exc

    def __enter__(self) -> C1ZReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()
        self._workdir.release()

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def sync_runs(self) -> list[rows.SyncRun]:
        with self._decoding("the sync runs"):
            return rows.read_sync_runs(self._conn)

    def default_sync_id(self) -> str:
        """The sync a Go reader shows when none is named."""
        run = rows.default_sync(self.sync_runs())
        if run is None:
            raise LookupError(f"{self.path}: holds no sync run")
        return run.sync_id

    def _sync(self, sync_id: str | None) -> str:
        return sync_id or self.default_sync_id()

    def counts_by_type(self, sync_id: str | None = None) -> dict[str, dict[str, int]]:
        """{resource type id: {"resources": n, "entitlements": n, "grants": n}} for one sync."""
        sid = self._sync(sync_id)
        out: dict[str, dict[str, int]] = {}
        for type_id in (r.id for r in self.resource_types(sid)):
            out[type_id] = {"resources": 0, "entitlements": 0, "grants": 0}
        held = sum(map(len, out))  # characters of the type ids held
        for key, table in (
            ("resources", "v1_resources"),
            ("entitlements", "v1_entitlements"),
            ("grants", "v1_grants"),
        ):
            # Cut past the bound as they are read: only a cut id is held, and it is refused. From the table, not an
            # index of the file (see `rows.iter_blobs`).
            query = (
                f"SELECT substr(resource_type_id, 1, {rows.MAX_TYPE_IDS_CHARS + 1}), count(*) "  # noqa: S608
                f"FROM {table} NOT INDEXED WHERE sync_id = ? GROUP BY resource_type_id"
            )
            with self._decoding(table):
                for type_id, n in self._conn.execute(query, (sid,)):
                    # str(): a hostile file may hold NULL or a blob here; the counts stay printable.
                    name = str(type_id)
                    if name not in out:
                        held += len(name)
                        if held > rows.MAX_TYPE_IDS_CHARS or len(out) >= rows.MAX_RESOURCE_TYPES:
                            raise ValueError(
                                f"its rows name more than {rows.MAX_RESOURCE_TYPES:,} resource types of one sync, or "
                                f"type ids of more than {rows.MAX_TYPE_IDS_CHARS >> 20} MiB together"
                            )
                        out[name] = {"resources": 0, "entitlements": 0, "grants": 0}
                    out[name][key] += int(n)
        return out

    def resource_types(self, sync_id: str | None = None) -> list[resource_pb2.ResourceType]:
        sid = self._sync(sync_id)
        with self._decoding("v1_resource_types"):
            rows.check_resource_types_size(self._conn, sid)  # held all at once
            return [
                resource_pb2.ResourceType.FromString(row[1])
                for row in rows.iter_blobs(self._conn, "v1_resource_types", sid)
            ]

    def resource_types_outside(self, known: Collection[str], limit: int) -> list[str]:
        """Up to `limit` resource type ids the file names, in any of its syncs, that are not in `known`: a file of
        another connector holds its own types (`rows.types_outside`)."""
        with self._decoding("the resource types"):
            return rows.types_outside(self._conn, known, limit)

    def resources(
        self, resource_type_id: str | None = None, sync_id: str | None = None
    ) -> Iterator[resource_pb2.Resource]:
        where, params = ("resource_type_id = ?", (resource_type_id,)) if resource_type_id else ("", ())
        with self._decoding("v1_resources"):
            for row in rows.iter_blobs(self._conn, "v1_resources", self._sync(sync_id), where, params):
                yield resource_pb2.Resource.FromString(row[1])

    def entitlements(
        self, resource_type_id: str | None = None, sync_id: str | None = None
    ) -> Iterator[entitlement_pb2.Entitlement]:
        where, params = ("resource_type_id = ?", (resource_type_id,)) if resource_type_id else ("", ())
        with self._decoding("v1_entitlements"):
            for row in rows.iter_blobs(self._conn, "v1_entitlements", self._sync(sync_id), where, params):
                yield entitlement_pb2.Entitlement.FromString(row[1])

    def grants(self, resource_type_id: str | None = None, sync_id: str | None = None) -> Iterator[grant_pb2.Grant]:
        """Grants of a sync, each with the GrantExpandable the writer moved out re-attached, and a slim
        grant (a Go writer's `WithV2GrantsWriter`: no entitlement or principal in the blob) gets the stubs its row's
        columns name, as Go's readers rebuild them (c1z-format.md §2.5): it was listed with neither."""
        where, params = ("resource_type_id = ?", (resource_type_id,)) if resource_type_id else ("", ())
        extra = "expansion" if "expansion" in self._grant_columns else ""
        stubs = _GRANT_STUB_COLUMNS if self._grant_columns.issuperset(_GRANT_STUB_COLUMNS) else ()
        with self._decoding("v1_grants"):
            for row in rows.iter_blobs(
                self._conn, "v1_grants", self._sync(sync_id), where, params, extra, plain_columns=stubs
            ):
                grant = grant_pb2.Grant.FromString(row[1])
                if extra and row[2]:
                    grant.annotations.add().Pack(annotation_grant_pb2.GrantExpandable.FromString(row[2]))
                if stubs:
                    _rebuild_stubs(grant, row[0], row[len(row) - len(stubs) :])
                yield grant


_GRANT_STUB_COLUMNS = (
    "entitlement_id",
    "resource_type_id",
    "resource_id",
    "principal_resource_type_id",
    "principal_resource_id",
)


def _rebuild_stubs(grant: grant_pb2.Grant, row_id: object, values: Sequence[object]) -> None:
    """Go's stubs for what a slim grant's blob leaves out: entitlement {id, resource.id}, principal {id}, from the
    row's `_GRANT_STUB_COLUMNS`."""
    if grant.HasField("entitlement") and grant.HasField("principal"):
        return
    if not all(isinstance(value, str) for value in values):
        raise ValueError(f"v1_grants row {row_id} holds a value of the wrong type")
    entitlement_id, resource_type_id, resource_id, principal_type_id, principal_id = cast("Sequence[str]", values)
    if not grant.HasField("entitlement"):
        grant.entitlement.id = entitlement_id
        grant.entitlement.resource.id.resource_type = resource_type_id
        grant.entitlement.resource.id.resource = resource_id
    if not grant.HasField("principal"):
        grant.principal.id.resource_type = principal_type_id
        grant.principal.id.resource = principal_id


def damaged_types_outside(
    c1z_path: Path, known: Collection[str], limit: int, tmp_dir: Path | None = None, stop: threading.Event | None = None
) -> list[str]:
    """`C1ZReader.resource_types_outside` for a file the reader refuses as damaged, as far as it can be told: the types
    outside `known` that its plain columns `v1_resource_types.external_id` and `v1_resources.resource_type_id` name,
    each table read on its own (what one yields stands when the other cannot be read); [] when neither can (a body
    that does not unpack, no such plain column, SQLite errors), and the damaged file is then restarted as before.

    Damage is a restart, and a restart replaces the file: another connector's file that the checks call damaged (SQL
    of its own, AUTOINCREMENT, a row id of 0, a header SQLite will not write) was replaced with this connector's
    sync, although the same file without that was refused as another connector's. No SQL of the file's runs here:
    stored columns of real tables (`schema.stored_columns`) read `NOT INDEXED` (a damaged file's index may name what its table
    does not: ours was refused as another connector's), each type confirmed by a row's object (`_outside`), with the
    schema untrusted (`guard_connection`) and `stop` looked at as SQLite steps."""
    workdir = WorkDir.create(tmp_dir, "read")
    try:
        db_path = workdir.path / "sync.db"
        try:
            decompress_to(c1z_path, db_path, stop)
            conn = connect_read_only(db_path)
        except (C1ZFormatError, *rows.SQLITE_ERRORS, OSError):
            check_stop(stop, c1z_path)
            return []
        try:
            stop_when(conn, stop)
            found: set[str] = set()
            for table, column in (("v1_resource_types", "external_id"), ("v1_resources", "resource_type_id")):
                try:
                    if stored_columns(conn, table, column, "data"):
                        found.update(_outside(conn, table, column, known, limit))
                except rows.SQLITE_ERRORS:
                    pass  # this table unreadable: the other's types stand
            check_stop(stop, c1z_path)  # a stopped read ends as stopped, not as "no types"
            return sorted(found)[:limit]
        finally:
            conn.close()
    finally:
        workdir.release()


# The most candidate types a damaged file's table is asked about, and the largest object decoded to confirm one.
_MAX_CANDIDATES = 100
_MAX_CONFIRMED_OBJECT = 64 << 10


def _outside(conn: sqlite3.Connection, table: str, column: str, known: Collection[str], limit: int) -> list[str]:
    """Up to `limit` values of `column` outside `known` that a row of theirs confirms: its object names the same type (a
    resource's type, a resource type's id), or its object's bytes do not read while its header does (a broken overflow
    page) or are too large to decode here (so it cannot be told apart). A damaged file's page may hold another table's
    cells, read in this table's layout (a sync id taken for a type, beside a text where the object goes), or a flipped
    bit may garble a type: ours was refused as another connector's.

    The types are read first from their column alone (it sits on the row's first page); then one row of each is looked
    at. What was found stands when a later read fails."""
    marks = ", ".join("?" * len(known)) or "NULL"
    query = (
        f"SELECT {column} FROM {table} NOT INDEXED "  # noqa: S608 - our names
        f"WHERE typeof({column}) = 'text' AND {column} NOT IN ({marks})"
    )
    seen: set[str] = set()
    found: list[str] = []
    # Row by row, not DISTINCT: SQLite's DISTINCT gave nothing before a broken page's error, though rows before it read.
    with suppress(*rows.SQLITE_ERRORS):  # a broken page ends the scan; what was found before it stands
        for (value,) in conn.execute(query, tuple(known)):
            if value in seen:
                continue
            seen.add(value)
            if _confirmed(conn, table, column, value):
                found.append(str(value)[:64])
            if len(found) >= limit or len(seen) >= _MAX_CANDIDATES:
                break
    return found


def _confirmed(conn: sqlite3.Connection, table: str, column: str, value: str) -> bool:
    where = f"FROM {table} NOT INDEXED WHERE {column} = ? LIMIT 1"
    try:
        # The object's kind and size come from the row's header alone: a header that does not read (a flipped bit)
        # makes its type text garbage too, which proves nothing (ours was refused as another connector's).
        shape = conn.execute(f"SELECT typeof(data), length(data) {where}", (value,)).fetchone()
    except rows.SQLITE_ERRORS:
        return False
    if shape is None or shape[0] != "blob":
        return False
    if shape[1] > _MAX_CONFIRMED_OBJECT:
        return True  # too large to decode here: the type column alone speaks
    try:
        row = conn.execute(f"SELECT data {where}", (value,)).fetchone()
    except rows.SQLITE_ERRORS:
        return True  # the header read and its object does not (a broken overflow page): the type column speaks
    if row is None or not isinstance(row[0], bytes):
        return False
    try:
        if table == "v1_resources":
            return bool(resource_pb2.Resource.FromString(row[0]).id.resource_type == value)
        return bool(resource_pb2.ResourceType.FromString(row[0]).id == value)
    except DecodeError:
        return False
