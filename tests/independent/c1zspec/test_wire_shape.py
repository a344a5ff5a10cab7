"""The c1z every writer path saves, held to docs/spec/c1z-format.md statement by statement where no other test held
it: the SQLite header (§2.3), each column's storage class (§2.4: what Go's driver scans; a text where Go expects a
blob, or a number where it parses a `datetime`, fails its read), the sync run's fields by type (§2.7) and the
timestamps' form, and which run a Go reader shows by default (§2.6).

The paths: a one-shot full sync, a targeted sync added on top of it, a run that failed and was saved unfinished for the
next one to resume, and a file holding all three kinds of run at once. Each test would break if the writer changed the
wire shape Go reads (a timestamp written as ISO text, a blob bound as text, a partial run without its parent, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.baton import builders as b
from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, syncers
from tests.c1z_fixtures import decompressed_db
from tests.independent.c1z.hostile import run_inspect

# §2.7: Go's `2006-01-02 15:04:05.999999999`, local time, no zone, trailing zeros of the fraction trimmed.
GO_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{0,8}[1-9])?")
KSUID = re.compile(r"[0-9A-Za-z]{27}")

# §2.4: each column's storage class as Go's driver scans it ("null" where the column is nullable and may be empty).
CLASSES: dict[str, dict[str, set[str]]] = {
    "v1_resource_types": {
        "id": {"integer"},
        "external_id": {"text"},
        "data": {"blob"},
        "sync_id": {"text"},
        "discovered_at": {"text"},
    },
    "v1_resources": {
        "id": {"integer"},
        "resource_type_id": {"text"},
        "external_id": {"text"},
        "parent_resource_type_id": {"text", "null"},
        "parent_resource_id": {"text", "null"},
        "data": {"blob"},
        "sync_id": {"text"},
        "discovered_at": {"text"},
    },
    "v1_entitlements": {
        "id": {"integer"},
        "resource_type_id": {"text"},
        "resource_id": {"text"},
        "external_id": {"text"},
        "data": {"blob"},
        "sync_id": {"text"},
        "discovered_at": {"text"},
    },
    "v1_grants": {
        "id": {"integer"},
        "resource_type_id": {"text"},
        "resource_id": {"text"},
        "entitlement_id": {"text"},
        "principal_resource_type_id": {"text"},
        "principal_resource_id": {"text"},
        "external_id": {"text"},
        "expansion": {"blob", "null"},
        "needs_expansion": {"integer"},
        "data": {"blob"},
        "sync_id": {"text"},
        "discovered_at": {"text"},
    },
    "v1_sync_runs": {
        "id": {"integer"},
        "sync_id": {"text"},
        "started_at": {"text"},
        "ended_at": {"text", "null"},
        "sync_token": {"text"},
        "sync_type": {"text"},
        "parent_sync_id": {"text"},
        "linked_sync_id": {"text"},
        "supports_diff": {"integer"},
        "grants_backfilled": {"integer"},
        "stats": {"text", "null"},
        "ingest_invariant_generation": {"text"},
        "ingest_invariant_coverage": {"text"},
        "ingest_invariant_mode": {"text"},
    },
}


async def _write_paths(where: Path) -> dict[str, Path]:
    org = Org()
    full = where / "full.c1z"
    await sync_to_file(syncers(org, Faults()), full)
    targeted = where / "targeted.c1z"
    targeted.write_bytes(full.read_bytes())
    await sync_to_file(syncers(org, Faults()), targeted, SyncOptions(targeted_resources=[b.resource_id("group", "g1")]))
    unfinished = where / "unfinished.c1z"
    with contextlib.suppress(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=6)), unfinished, SyncOptions(concurrency=1))
    return {"full": full, "targeted": targeted, "unfinished": unfinished}


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return asyncio.run(_write_paths(tmp_path_factory.mktemp("paths")))


@contextlib.contextmanager
def opened(path: Path) -> Iterator[tuple[bytes, sqlite3.Connection]]:
    with decompressed_db(path) as db, contextlib.closing(sqlite3.connect(db)) as conn:
        yield db.read_bytes()[:100], conn


def runs(conn: sqlite3.Connection) -> list[dict[str, object]]:
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute("SELECT * FROM v1_sync_runs ORDER BY id")]
    finally:
        conn.row_factory = None


PATHS = ["full", "targeted", "unfinished"]


@pytest.mark.parametrize("path", PATHS)
def test_the_sqlite_header_is_what_go_files_have(path: str, written: dict[str, Path]) -> None:
    """§2.3: page size 4096, UTF-8, user_version 0, application_id 0, schema format 4, header bytes 18-19 `1/1` (a
    rollback-journal file; `2/2`, WAL, is Go's and as valid), and no journal or WAL left to replay (§2.2)."""
    with opened(written[path]) as (header, _):
        assert header[:16] == b"SQLite format 3\x00"
        assert int.from_bytes(header[16:18], "big") == 4096
        assert (header[18], header[19]) in {(1, 1), (2, 2)}
        assert int.from_bytes(header[44:48], "big") == 4, "schema format"
        assert int.from_bytes(header[56:60], "big") == 1, "UTF-8"
        assert header[60:64] == b"\x00" * 4, "user_version"
        assert header[68:72] == b"\x00" * 4, "application_id"


@pytest.mark.parametrize("path", PATHS)
def test_every_value_has_the_storage_class_go_scans(path: str, written: dict[str, Path]) -> None:
    with opened(written[path]) as (_, conn):
        for table, columns in CLASSES.items():
            for column, allowed in columns.items():
                found = {str(kind) for (kind,) in conn.execute(f"SELECT DISTINCT typeof({column}) FROM {table}")}
                assert found <= allowed, f"{table}.{column}: {sorted(found)}"
        assert conn.execute("SELECT count(*) FROM v1_grants").fetchone()[0] > 0, "rows were looked at"


@pytest.mark.parametrize("path", PATHS)
def test_every_timestamp_is_go_local_text_and_every_sync_id_a_ksuid(path: str, written: dict[str, Path]) -> None:
    with opened(written[path]) as (_, conn):
        stamps = [
            str(value)
            for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")
            for (value,) in conn.execute(f"SELECT DISTINCT discovered_at FROM {table}")
        ]
        for run in runs(conn):
            stamps += [str(run["started_at"])] + ([str(run["ended_at"])] if run["ended_at"] is not None else [])
            assert KSUID.fullmatch(str(run["sync_id"]))
        assert stamps
        assert [s for s in stamps if not GO_TIME.fullmatch(s)] == []
        ids = {str(run["sync_id"]) for run in runs(conn)}
        for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants"):
            assert {r[0] for r in conn.execute(f"SELECT DISTINCT sync_id FROM {table}")} <= ids


def test_a_full_sync_run_is_finished_full_and_diff_capable(written: dict[str, Path]) -> None:
    with opened(written["full"]) as (_, conn):
        (run,) = runs(conn)
    assert (run["sync_type"], run["parent_sync_id"], run["linked_sync_id"]) == ("full", "", "")
    assert (run["supports_diff"], run["grants_backfilled"]) == (1, 1)
    assert run["ended_at"] is not None
    token = json.loads(str(run["sync_token"]))
    assert token["version"] == 1
    assert "actions_map" not in token
    assert json.loads(str(run["stats"]))["resource_types"] == 3


def test_a_targeted_run_is_partial_on_top_of_the_full_sync_it_builds_on(written: dict[str, Path]) -> None:
    """§2.7: a partial sync's parent is the latest finished full sync; it is not diff-capable (no expansion step)."""
    with opened(written["targeted"]) as (_, conn):
        full, partial = runs(conn)
    assert full["sync_type"] == "full"
    assert (partial["sync_type"], partial["parent_sync_id"], partial["linked_sync_id"]) == (
        "partial",
        full["sync_id"],
        "",
    )
    assert (partial["supports_diff"], partial["grants_backfilled"]) == (0, 1)
    assert partial["ended_at"] is not None
    with C1ZReader(written["targeted"]) as reader:
        assert reader.default_sync_id() == full["sync_id"], "§2.6: Go's readers show the finished full sync"


def test_an_unfinished_run_has_no_end_no_stats_and_a_resumable_token(written: dict[str, Path]) -> None:
    with opened(written["unfinished"]) as (_, conn):
        (run,) = runs(conn)
    assert (run["sync_type"], run["ended_at"], run["stats"], run["supports_diff"]) == ("full", None, None, 0)
    token = json.loads(str(run["sync_token"]))
    assert token["version"] == 1
    assert token["action_order"], "the stack it stopped with"
    assert all(re.fullmatch(r"\d{10}", action) for action in token["action_order"]), "10-digit action ids"


async def test_go_readers_default_to_the_finished_full_sync_beside_newer_partial_and_unfinished_runs(
    written: dict[str, Path], tmp_path: Path
) -> None:
    """§2.6: the latest finished full sync, whatever partial run ended after it or full run was started after it."""
    path = tmp_path / "three.c1z"
    path.write_bytes(written["targeted"].read_bytes())
    with contextlib.suppress(InjectedFailure):
        await sync_to_file(syncers(Org(), Faults(fail_at_call=6)), path, SyncOptions(concurrency=1))
    with C1ZReader(path) as reader:
        kinds = [(run.sync_type, run.finished) for run in reader.sync_runs()]
        assert kinds == [("full", True), ("partial", True), ("full", False)]
        full = reader.sync_runs()[0].sync_id
        assert reader.default_sync_id() == full
    code, out, _ = run_inspect(path)
    assert code == 0
    assert json.loads(out)["sync_id"] == full
