"""Read-only access to a c1z file, Go-written or ours: sync runs, counts and decoded rows."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from connector.baton.c1z import rows
from connector.baton.c1z.envelope import unpack
from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2, entitlement_pb2, grant_pb2, resource_pb2


class C1ZReader:
    """Opens a c1z by decompressing it into a private temp directory; use as a context manager."""

    def __init__(self, c1z_path: Path, tmp_dir: Path | None = None) -> None:
        self.path = c1z_path
        self._workdir, db_path = unpack(c1z_path, tmp_dir, prefix="c1z-read-")
        try:
            self._conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
            self._grant_columns = rows.columns(self._conn, "v1_grants")
        except BaseException:
            shutil.rmtree(self._workdir, ignore_errors=True)
            raise

    def __enter__(self) -> C1ZReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._conn.close()
        shutil.rmtree(self._workdir, ignore_errors=True)

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def sync_runs(self) -> list[rows.SyncRun]:
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
        for key, table in (
            ("resources", "v1_resources"),
            ("entitlements", "v1_entitlements"),
            ("grants", "v1_grants"),
        ):
            query = f"SELECT resource_type_id, count(*) FROM {table} WHERE sync_id = ? GROUP BY resource_type_id"  # noqa: S608
            for type_id, n in self._conn.execute(query, (sid,)):
                out.setdefault(type_id, {"resources": 0, "entitlements": 0, "grants": 0})[key] = n
        return out

    def resource_types(self, sync_id: str | None = None) -> list[resource_pb2.ResourceType]:
        sid = self._sync(sync_id)
        return [
            resource_pb2.ResourceType.FromString(row[1])
            for row in rows.iter_blobs(self._conn, "v1_resource_types", sid)
        ]

    def resources(
        self, resource_type_id: str | None = None, sync_id: str | None = None
    ) -> Iterator[resource_pb2.Resource]:
        where, params = ("resource_type_id = ?", (resource_type_id,)) if resource_type_id else ("", ())
        for row in rows.iter_blobs(self._conn, "v1_resources", self._sync(sync_id), where, params):
            yield resource_pb2.Resource.FromString(row[1])

    def entitlements(
        self, resource_type_id: str | None = None, sync_id: str | None = None
    ) -> Iterator[entitlement_pb2.Entitlement]:
        where, params = ("resource_type_id = ?", (resource_type_id,)) if resource_type_id else ("", ())
        for row in rows.iter_blobs(self._conn, "v1_entitlements", self._sync(sync_id), where, params):
            yield entitlement_pb2.Entitlement.FromString(row[1])

    def grants(
        self, resource_type_id: str | None = None, sync_id: str | None = None, *, with_expansion: bool = True
    ) -> Iterator[grant_pb2.Grant]:
        """Grants of a sync; `with_expansion` re-attaches the GrantExpandable that the writer moved out."""
        where, params = ("resource_type_id = ?", (resource_type_id,)) if resource_type_id else ("", ())
        extra = "expansion" if "expansion" in self._grant_columns else ""
        for row in rows.iter_blobs(self._conn, "v1_grants", self._sync(sync_id), where, params, extra):
            grant = grant_pb2.Grant.FromString(row[1])
            if with_expansion and extra and row[2]:
                grant.annotations.add().Pack(annotation_grant_pb2.GrantExpandable.FromString(row[2]))
            yield grant
