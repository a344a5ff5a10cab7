"""The writable c1z store: an uncompressed SQLite working file that becomes a c1z on `save`.

A sync writes pages into the working file and checkpoints its state into the sync run in the same
transaction, so a crash or an error leaves a file that resumes exactly where it stopped. `save` turns the
working file into the compressed c1z atomically; the working file lives in a private temp directory.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from connector.baton.c1z import rows
from connector.baton.c1z.envelope import compress_atomically, unpack
from connector.baton.c1z.schema import DDL, SYNC_RUN_COLUMNS_ADDED_LATER, parse_sqlite_time, sqlite_time
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2

# Go resumes an unfinished sync only while it is younger than this.
RESUME_MAX_AGE = timedelta(days=7)


class C1ZStore:
    """Working SQLite file of one c1z. Not thread-safe: the sync engine writes from the event loop only."""

    def __init__(self, db_path: Path, workdir: Path, *, owns_workdir: bool) -> None:
        self._db_path = db_path
        self._workdir = workdir
        self._owns_workdir = owns_workdir
        # isolation_level=None: transactions are explicit, so a page and its checkpoint commit together.
        self._conn = sqlite3.connect(db_path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=DELETE")
        # The working file is private and temporary: a crash loses it whatever we do, and resuming starts from
        # the saved c1z (which is fsynced), so per-commit fsyncs here would only cost time.
        self._conn.execute("PRAGMA synchronous=OFF")
        self._in_tx = False
        self._sync_id: str | None = None
        self._ensure_schema()

    # -- opening -------------------------------------------------------------------------------------------

    @classmethod
    def create(cls, tmp_dir: Path | None = None) -> C1ZStore:
        """A new empty store."""
        workdir = Path(tempfile.mkdtemp(prefix="c1z-", dir=tmp_dir))
        db_path = workdir / "sync.db"
        conn = sqlite3.connect(db_path)
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA encoding='UTF-8'")
        conn.close()
        return cls(db_path, workdir, owns_workdir=True)

    @classmethod
    def open(cls, c1z_path: Path, tmp_dir: Path | None = None) -> C1ZStore:
        """The store inside an existing c1z file, or a new one when the file does not exist or is empty."""
        if not c1z_path.exists() or c1z_path.stat().st_size == 0:
            return cls.create(tmp_dir)
        workdir, db_path = unpack(c1z_path, tmp_dir)
        return cls(db_path, workdir, owns_workdir=True)

    def _ensure_schema(self) -> None:
        with self.transaction():
            for statement in DDL:
                if "v1_grants (sync_id) where" in statement or "idx_grants_entitlement_sync_grant" in statement:
                    # These indexes name columns that older files gain only below.
                    continue
                self._conn.execute(statement)
            have = rows.columns(self._conn, "v1_sync_runs")
            for name, decl in SYNC_RUN_COLUMNS_ADDED_LATER:
                if name not in have:
                    self._conn.execute(f"ALTER TABLE v1_sync_runs ADD COLUMN {name} {decl}")
            grant_columns = rows.columns(self._conn, "v1_grants")
            if "expansion" not in grant_columns:
                # An older file: its grants still hold GrantExpandable inside the blob; the Go migration moves
                # them on open, and so would we if we ever wrote into such a sync (we do not: new syncs only).
                self._conn.execute("ALTER TABLE v1_grants ADD COLUMN expansion blob")
                self._conn.execute("ALTER TABLE v1_grants ADD COLUMN needs_expansion integer not null default 0")
            for statement in DDL:
                if "v1_grants (sync_id) where" in statement or "idx_grants_entitlement_sync_grant" in statement:
                    self._conn.execute(statement)

    # -- lifecycle -----------------------------------------------------------------------------------------

    def __enter__(self) -> C1ZStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Drop the working file without saving."""
        self._conn.close()
        if self._owns_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def save(self, c1z_path: Path, *, vacuum: bool = True) -> int:
        """Write the store as a c1z at `c1z_path` (atomically); returns the file size. The store stays open."""
        if self._in_tx:
            raise RuntimeError("cannot save inside a transaction")
        if vacuum:
            self._conn.execute("VACUUM")
        return compress_atomically(self._db_path, c1z_path)

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One SQLite transaction; nested uses join the outer one."""
        if self._in_tx:
            yield
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._in_tx = True
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._in_tx = False

    # -- sync runs -----------------------------------------------------------------------------------------

    @property
    def sync_id(self) -> str:
        if self._sync_id is None:
            raise RuntimeError("no sync is active: call start_sync or resume_sync first")
        return self._sync_id

    def sync_runs(self) -> list[rows.SyncRun]:
        return rows.read_sync_runs(self._conn)

    def resumable_sync(self, sync_type: str = "full", now: datetime | None = None) -> rows.SyncRun | None:
        """The newest unfinished sync of this type younger than 7 days, as Go would resume it."""
        cutoff = (now or datetime.now()) - RESUME_MAX_AGE
        candidates = [
            run
            for run in self.sync_runs()
            if not run.finished and run.sync_type == sync_type and parse_sqlite_time(run.started_at) >= cutoff
        ]
        return max(candidates, key=lambda r: (r.started_at, r.sync_id), default=None)

    def start_sync(self, sync_type: str = "full", parent_sync_id: str = "") -> str:
        sync_id = new_ksuid()
        with self.transaction():
            self._conn.execute(
                "INSERT INTO v1_sync_runs (sync_id, started_at, sync_token, sync_type, parent_sync_id, "
                "linked_sync_id, grants_backfilled) VALUES (?, ?, '', ?, ?, '', 1)",
                (sync_id, sqlite_time(), sync_type, parent_sync_id),
            )
        self._sync_id = sync_id
        return sync_id

    def resume_sync(self, sync_id: str) -> str:
        """Continue an unfinished sync; returns its saved state token."""
        row = self._conn.execute(
            "SELECT sync_token, ended_at FROM v1_sync_runs WHERE sync_id = ?", (sync_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no sync run {sync_id}")
        if row[1] is not None:
            raise ValueError(f"sync run {sync_id} is already finished")
        self._sync_id = sync_id
        return str(row[0])

    def checkpoint(self, token: str) -> None:
        self._conn.execute("UPDATE v1_sync_runs SET sync_token = ? WHERE sync_id = ?", (token, self.sync_id))

    def end_sync(self, token: str, *, supports_diff: bool) -> dict[str, Any]:
        """Mark the active sync finished and cache its stats; returns the stats."""
        stats = self.compute_stats(self.sync_id)
        with self.transaction():
            self._conn.execute(
                "UPDATE v1_sync_runs SET sync_token = ?, supports_diff = ?, ended_at = ?, stats = ? "
                "WHERE sync_id = ? AND ended_at IS NULL",
                (
                    token,
                    1 if supports_diff else 0,
                    sqlite_time(),
                    json.dumps(stats, separators=(",", ":")),
                    self.sync_id,
                ),
            )
        return stats

    def keep_only(self, sync_id: str) -> None:
        """Delete every other sync run and its rows, so the file holds exactly one sync."""
        with self.transaction():
            for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_assets"):
                self._conn.execute(f"DELETE FROM {table} WHERE sync_id != ?", (sync_id,))  # noqa: S608
            self._conn.execute("DELETE FROM v1_connector_sessions")
            self._conn.execute("DELETE FROM v1_sync_runs WHERE sync_id != ?", (sync_id,))

    def compute_stats(self, sync_id: str) -> dict[str, Any]:
        """`c1.reader.v2.SyncStats` as Go's encoding/json writes it: snake_case, zero values omitted."""
        by_type: dict[str, dict[str, int]] = {}
        for key, table in (
            ("resources_by_resource_type", "v1_resources"),
            ("entitlements_by_resource_type", "v1_entitlements"),
            ("grants_by_resource_type", "v1_grants"),
        ):
            by_type[key] = dict(
                self._conn.execute(
                    f"SELECT resource_type_id, count(*) FROM {table} WHERE sync_id = ? "  # noqa: S608
                    "GROUP BY resource_type_id ORDER BY resource_type_id",
                    (sync_id,),
                ).fetchall()
            )
        type_ids = [
            row[0]
            for row in self._conn.execute(
                "SELECT external_id FROM v1_resource_types WHERE sync_id = ? ORDER BY external_id", (sync_id,)
            )
        ]
        # Every synced type gets a resources entry, including 0, as Go does.
        by_type["resources_by_resource_type"] = {
            t: by_type["resources_by_resource_type"].get(t, 0) for t in type_ids
        } | by_type["resources_by_resource_type"]
        stats: dict[str, Any] = {
            "resource_types": len(type_ids),
            "resources": sum(by_type["resources_by_resource_type"].values()),
            "entitlements": sum(by_type["entitlements_by_resource_type"].values()),
            "grants": sum(by_type["grants_by_resource_type"].values()),
            **by_type,
        }
        return {k: v for k, v in stats.items() if v}

    # -- writes (call inside `transaction()` to group a page with its checkpoint) -------------------------

    def put_resource_types(self, items: Sequence[resource_pb2.ResourceType]) -> None:
        now = sqlite_time()
        self._put(rows.UPSERT_RESOURCE_TYPE, [rows.resource_type_row(x, self.sync_id, now) for x in items])

    def put_resources(self, items: Sequence[resource_pb2.Resource]) -> None:
        now = sqlite_time()
        self._put(rows.UPSERT_RESOURCE, [rows.resource_row(x, self.sync_id, now) for x in items])

    def put_entitlements(self, items: Sequence[entitlement_pb2.Entitlement]) -> None:
        now = sqlite_time()
        self._put(rows.UPSERT_ENTITLEMENT, [rows.entitlement_row(x, self.sync_id, now) for x in items])

    def put_grants(self, items: Sequence[grant_pb2.Grant]) -> None:
        now = sqlite_time()
        self._put(rows.UPSERT_GRANT, [rows.grant_row(x, self.sync_id, now) for x in items])

    def _put(self, sql: str, values: list[tuple[Any, ...]]) -> None:
        if not values:
            return
        with self.transaction():
            for start in range(0, len(values), rows.BATCH_ROWS):
                self._conn.executemany(sql, values[start : start + rows.BATCH_ROWS])

    # -- reads the sync engine needs -----------------------------------------------------------------------

    def resource_types(self) -> list[resource_pb2.ResourceType]:
        out = []
        for row in rows.iter_blobs(self._conn, "v1_resource_types", self.sync_id):
            out.append(resource_pb2.ResourceType.FromString(row[1]))
        return out

    def resources_after(
        self, resource_type_id: str, after_row_id: int, limit: int
    ) -> list[tuple[int, resource_pb2.Resource]]:
        """Stored resources of a type in row order after `after_row_id`: the engine's resumable cursor."""
        found = self._conn.execute(
            "SELECT id, data FROM v1_resources WHERE sync_id = ? AND resource_type_id = ? AND id > ? "
            "ORDER BY id LIMIT ?",
            (self.sync_id, resource_type_id, after_row_id, limit),
        ).fetchall()
        return [(row[0], resource_pb2.Resource.FromString(row[1])) for row in found]

    def get_resource(self, resource_type_id: str, resource_id: str) -> resource_pb2.Resource | None:
        row = self._conn.execute(
            "SELECT data FROM v1_resources WHERE sync_id = ? AND resource_type_id = ? AND external_id = ?",
            (self.sync_id, resource_type_id, f"{resource_type_id}:{resource_id}"),
        ).fetchone()
        return None if row is None else resource_pb2.Resource.FromString(row[0])

    def count(self, table: str) -> int:
        query = f"SELECT count(*) FROM {table} WHERE sync_id = ?"  # noqa: S608 - table names are ours
        return int(self._conn.execute(query, (self.sync_id,)).fetchone()[0])
