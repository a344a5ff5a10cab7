"""The SQLite database inside a c1z as untrusted input (docs/spec/c1z-format.md §2.3-§2.7).

A file that differs from the product's own only where the format allows (page size, journal mode, encoding, a newer
schema's extra columns and tables) is read by every entry point. One that lacks what a reader needs, or brings SQL of
its own, is refused with one line naming the file; a one-shot sync starts a new file in its place and nothing of the
old schema reaches the new one. Values of the file's rows (NUL, control characters, invalid UTF-8, duplicates,
unknown protobuf fields) are shown as data, never as a traceback or terminal commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from connector.baton.c1z.errors import DamagedC1ZError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import database_of, edited, envelope, good_c1z, leftovers, run_inspect

SCHEMA = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("good")
    return asyncio.run(good_c1z(where / "good.c1z", where))


@pytest.fixture(scope="module")
def clean_schema(good: Path) -> list[tuple[object, ...]]:
    with C1ZReader(good) as reader:
        return reader.connection.execute(SCHEMA).fetchall()


async def _one_shot_into(path: Path, work: Path) -> None:
    """A one-shot sync into `path` ends with it holding exactly that finished sync, whole."""
    org = Org()
    result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=work)
    with C1ZReader(path, work) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
    assert leftovers(work) == []


# -- what the format allows: read by every entry point ------------------------------------------------------------

ALLOWED: dict[str, tuple[str, ...]] = {
    # SQLite reads any page size; Go's files have 4096 (§2.3), others are as valid.
    "512-byte pages": ("PRAGMA page_size=512", "VACUUM"),
    "64 KiB pages": ("PRAGMA page_size=65536", "VACUUM"),
    # §2.3: Go's files say WAL in their header (bytes 18-19 = 2/2); "a rollback-journal file is equally valid".
    "a WAL-mode header": ("PRAGMA journal_mode=WAL",),
    "auto-vacuum": ("PRAGMA auto_vacuum=FULL", "VACUUM"),
    # A newer SDK's schema: columns and tables this reader does not know (§2.3: Go's migrations add columns).
    "a newer schema's columns": (
        "ALTER TABLE v1_sync_runs ADD COLUMN future text not null default ''",
        "ALTER TABLE v1_grants ADD COLUMN future blob",
        "ALTER TABLE v1_resources ADD COLUMN future integer not null default 0",
    ),
    "a newer schema's table": ("CREATE TABLE v2_future (id integer primary key, sync_id text, data blob)",),
    "the application id and user version set": ("PRAGMA application_id=1128813894", "PRAGMA user_version=7"),
    "ANALYZE's statistics": ("ANALYZE",),
}


@pytest.mark.parametrize("case", sorted(ALLOWED))
async def test_what_the_format_allows_is_read_inspected_and_synced_into(case: str, good: Path, tmp_path: Path) -> None:
    path = edited(good, tmp_path / "allowed.c1z", *ALLOWED[case])
    with C1ZReader(path, tmp_path) as reader, C1ZReader(good, tmp_path) as expected:
        assert sorted(g.id for g in reader.grants()) == sorted(g.id for g in expected.grants())
    code, out, err = run_inspect(path)
    assert (code, err) == (0, ""), err
    assert json.loads(out)["sync_runs"]
    work = tmp_path / "work"
    work.mkdir()
    await _one_shot_into(path, work)


def test_a_utf16_database_reads_as_the_same_rows(good: Path, tmp_path: Path) -> None:
    """A database's text encoding is its own choice; SQLite converts (ids compare equal either way)."""
    source = tmp_path / "utf8.sqlite"
    source.write_bytes(database_of(good))
    target = tmp_path / "utf16.sqlite"
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as conn:
        conn.execute("PRAGMA encoding='UTF-16le'")
        conn.executescript("\n".join(src.iterdump()))
    path = tmp_path / "utf16.c1z"
    path.write_bytes(envelope(target.read_bytes()))
    with C1ZReader(path, tmp_path) as reader, C1ZReader(good, tmp_path) as expected:
        assert reader.connection.execute("PRAGMA encoding").fetchone()[0] == "UTF-16le"
        assert reader.counts_by_type() == expected.counts_by_type()


# -- what a reader needs, missing: refused as damage -----------------------------------------------------------------

MISSING: dict[str, tuple[tuple[str, ...], str]] = {
    **{
        f"no table {table}": ((f"DROP TABLE {table}",), f"not a c1z database (no table {table})")
        for table in ("v1_sync_runs", "v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")
    },
    "no data column in v1_resources": (
        ("ALTER TABLE v1_resources DROP COLUMN data",),
        "table v1_resources lacks the column(s) data",
    ),
    "no ended_at in v1_sync_runs": (
        ("ALTER TABLE v1_sync_runs DROP COLUMN ended_at",),
        "table v1_sync_runs lacks the column(s) ended_at",
    ),
    "no external_id in v1_grants": (
        (
            "DROP INDEX IF EXISTS idx_grants_external_sync_v1",
            "ALTER TABLE v1_grants DROP COLUMN external_id",
        ),
        "table v1_grants lacks the column(s) external_id",
    ),
    # A name 100,000 characters long: the line quotes 64 of them.
    "a trigger with a very long name": (
        ('CREATE TRIGGER "' + "t" * 100_000 + '" AFTER INSERT ON v1_grants BEGIN SELECT 1; END',),
        "holds a trigger '" + "t" * 64 + "'",
    ),
    "a view with a terminal escape in its name": (
        ('CREATE VIEW "v\x1b[2Jx" AS SELECT 1',),
        "holds a view 'v\\x1b[2Jx'",
    ),
    # The file cannot attach another database by itself; an ATTACH's traces are schema objects (a view naming the
    # attached schema), refused as every view is.
    "a view over an attached schema": (("CREATE VIEW peek AS SELECT * FROM v1_grants",), "holds a view 'peek'"),
    # SQLite allows any 64-bit rowid; readers page from id 0 up: these rows were never listed (exit 0).
    **{
        f"a row id of 0 or less in {table}": (
            (f"UPDATE {table} SET id = -id WHERE id = (SELECT max(id) FROM {table})",),
            f"table {table} holds a row whose id is -",
        )
        for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")
    },
    # The ids a write takes come from the file's own counter, here at its end: every sync into the file failed as
    # "disk full: no space left in" the working directory, retryable, for good.
    "an AUTOINCREMENT counter at its end": (
        (
            "ALTER TABLE v1_assets RENAME TO old_assets",
            "CREATE TABLE v1_assets (id integer primary key autoincrement, external_id text not null, content_type "
            "text not null, data blob not null, sync_id text not null, discovered_at datetime not null)",
            "UPDATE sqlite_sequence SET seq = 9223372036854775807",
            "INSERT INTO sqlite_sequence (name, seq) SELECT 'v1_assets', 9223372036854775807 WHERE changes() = 0",
            "DROP TABLE old_assets",
        ),
        "holds a table whose ids are AUTOINCREMENT 'v1_assets'",
    ),
    "an AUTOINCREMENT table of grants": (
        (
            "ALTER TABLE v1_grants RENAME TO old_grants",
            "CREATE TABLE v1_grants (id integer primary key autoincrement, resource_type_id text not null, "
            "resource_id text not null, entitlement_id text not null, principal_resource_type_id text not null, "
            "principal_resource_id text not null, external_id text not null, expansion blob, needs_expansion integer "
            "not null default 0, data blob not null, sync_id text not null, discovered_at datetime not null)",
            "INSERT INTO v1_grants SELECT * FROM old_grants",
            "UPDATE sqlite_sequence SET seq = 9223372036854775807 WHERE name = 'v1_grants'",
            "DROP TABLE old_grants",
        ),
        "holds a table whose ids are AUTOINCREMENT 'v1_grants'",
    ),
    # 240 MB of comments in four tables' SQL took inspect 11 s and 341 MB (all of it read and searched); 2 MiB here.
    "a schema of megabytes of SQL": (
        (f"CREATE TABLE notes (a /* {'x' * (2 << 20)} */)",),
        "not a c1z database (its schema's SQL takes 2,1",
    ),
    "a sync id of invalid UTF-8": (
        ("UPDATE v1_sync_runs SET sync_id = CAST(x'ff1b5b326a' AS TEXT)",),
        "Could not decode to UTF-8 column 'sync_id'",
    ),
}


@pytest.mark.parametrize("case", sorted(MISSING))
async def test_what_a_reader_needs_missing_is_one_line_and_a_new_sync(
    case: str, good: Path, clean_schema: list[tuple[object, ...]], tmp_path: Path
) -> None:
    statements, phrase = MISSING[case]
    path = edited(good, tmp_path / "damaged.c1z", *statements)
    with pytest.raises(DamagedC1ZError) as caught:
        C1ZReader(path, tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    assert phrase in message, message
    assert "\n" not in message
    assert "\x1b" not in message
    assert len(message) < 400
    code, out, err = run_inspect(path)
    assert (code, out) == (2, "")
    assert err.startswith(f"baton-datadog: inspect: {path}: ")
    assert err.count("\n") == 1
    assert "\x1b" not in err
    work = tmp_path / "work"
    work.mkdir()
    await _one_shot_into(path, work)
    with C1ZReader(path, work) as reader:
        assert reader.connection.execute(SCHEMA).fetchall() == clean_schema, "nothing of the old schema is kept"


# -- the rows' values -------------------------------------------------------------------------------------------------


def _resource(rid: str) -> bytes:
    resource = resource_pb2.Resource(display_name=rid)
    resource.id.resource_type = "user"
    resource.id.resource = rid
    return resource.SerializeToString()


@pytest.mark.parametrize(
    "rid",
    ["nul\x00inside", "bell\x07and\x1b]0;title\x07", "line\nbreak", "\u202eright-to-left", "x" * 10_000],
    ids=["nul", "osc", "newline", "bidi", "long"],
)
def test_an_id_of_any_characters_is_listed_as_data(rid: str, good: Path, tmp_path: Path) -> None:
    path = edited(
        good,
        tmp_path / "odd.c1z",
        "UPDATE v1_resources SET external_id = 'user:' || ?1, data = ?2 WHERE id = "
        "(SELECT min(id) FROM v1_resources WHERE resource_type_id = 'user')",
        params=(rid, _resource(rid)),
    )
    code, out, err = run_inspect(path, "--resources", "user")
    assert (code, err) == (0, "")
    listed = json.loads(out)
    assert any(row["id"] == rid for row in listed), "JSON carries the id as it is"


def test_invalid_utf8_in_a_row_is_one_line_without_the_raw_bytes(good: Path, tmp_path: Path) -> None:
    path = edited(
        good,
        tmp_path / "bytes.c1z",
        "UPDATE v1_resources SET resource_type_id = CAST(x'ff1b5b326a0a' AS TEXT) WHERE id = 1",
    )
    code, out, err = run_inspect(path)
    assert (code, out) == (1, "")
    assert err.startswith(f"baton-datadog: inspect: {path}: cannot read v1_resources: ")
    assert err.count("\n") == 1
    assert "\x1b" not in err


def test_unknown_protobuf_fields_are_ignored_as_protobuf_does(good: Path, tmp_path: Path) -> None:
    """A newer SDK's fields (here field 999, varint) decode as unknown fields: the row is still shown."""
    path = edited(good, tmp_path / "newer.c1z", "UPDATE v1_resources SET data = CAST(data || x'b83e01' AS BLOB)")
    code, out, err = run_inspect(path, "--resources", "user")
    assert (code, err) == (0, "")
    assert json.loads(out)


def test_rows_stored_twice_are_counted_as_stored(good: Path, tmp_path: Path) -> None:
    """A file whose unique index is gone holds a grant twice: `inspect` counts rows; no crash, no hang."""
    path = edited(
        good,
        tmp_path / "twice.c1z",
        "DROP INDEX idx_grants_external_sync_v1",
        "INSERT INTO v1_grants (resource_type_id, resource_id, entitlement_id, principal_resource_type_id, "
        "principal_resource_id, external_id, data, sync_id, discovered_at) SELECT resource_type_id, resource_id, "
        "entitlement_id, principal_resource_type_id, principal_resource_id, external_id, data, sync_id, discovered_at "
        "FROM v1_grants",
    )
    with C1ZReader(good, tmp_path) as reader:
        once = sum(c["grants"] for c in reader.counts_by_type().values())
    code, out, err = run_inspect(path)
    assert (code, err) == (0, "")
    assert sum(c["grants"] for c in json.loads(out)["counts"]) == 2 * once


async def test_a_run_stored_twice_is_replaced_by_one_new_sync(good: Path, tmp_path: Path) -> None:
    path = edited(
        good,
        tmp_path / "runs.c1z",
        "DROP INDEX idx_sync_runs_sync_id_v1",
        "INSERT INTO v1_sync_runs (sync_id, started_at, ended_at, sync_token) "
        "SELECT sync_id, started_at, NULL, '' FROM v1_sync_runs",
    )
    work = tmp_path / "work"
    work.mkdir()
    await _one_shot_into(path, work)


async def test_a_run_that_claims_to_be_finished_is_not_resumed(good: Path, tmp_path: Path) -> None:
    """§2.6: a run with `ended_at` set is finished, whatever its token says; only `ended_at IS NULL` is resumed (§2.6,
    "Resume of an unfinished sync"). Its half-stored state is not carried on: a new sync replaces the file."""
    org = Org()
    path = tmp_path / "sync.c1z"
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=8)), path, options(concurrency=1), tmp_dir=tmp_path)
    claimed = edited(path, tmp_path / "claimed.c1z", "UPDATE v1_sync_runs SET ended_at = started_at")
    result = await sync_to_file(syncers(org, Faults()), claimed, options(), tmp_dir=tmp_path)
    assert not result.resumed
    with C1ZReader(claimed, tmp_path) as reader:
        assert [r.sync_id for r in reader.sync_runs()] == [result.sync_id]
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)


async def test_of_many_runs_the_newest_unfinished_one_is_resumed_and_alone_kept(good: Path, tmp_path: Path) -> None:
    org = Org()
    path = tmp_path / "sync.c1z"
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=8)), path, options(concurrency=1), tmp_dir=tmp_path)
    many = edited(
        path,
        tmp_path / "many.c1z",
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 500) "
        "INSERT INTO v1_sync_runs (sync_id, started_at, ended_at, sync_token) "
        "SELECT 'old' || x, '2020-01-01 00:00:00', CASE WHEN x % 2 THEN '2020-01-01 00:00:01' END, '' FROM n",
    )
    result = await sync_to_file(syncers(org, Faults()), many, options(), tmp_dir=tmp_path)
    assert result.resumed, "the runs older than 7 days are not resumed (§2.6); the newest unfinished one is"
    with C1ZReader(many, tmp_path) as reader:
        assert [r.sync_id for r in reader.sync_runs()] == [result.sync_id]
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)


# -- the SQLite file header (https://www.sqlite.org/fileformat.html §1.3), byte by byte ----------------------------

HEADERS: dict[str, dict[int, int]] = {
    "a write version SQLite does not write": {18: 3},
    "a read version SQLite does not read": {19: 3},
    "255 reserved bytes per page": {20: 255},
    "a maximum payload fraction other than 64": {21: 10},
    "a page size of 1": {16: 0, 17: 1},
    "a page size that is no power of two": {16: 0x0B, 17: 0xB8},
    "schema format 5": {47: 5},
    "incremental vacuum without auto-vacuum": {67: 1},
    "2^31 pages": {28: 0x7F, 29: 0xFF, 30: 0xFF, 31: 0xFF},
}


def _patched(good: Path, out: Path, patch: dict[int, int]) -> Path:
    db = bytearray(database_of(good))
    for offset, value in patch.items():
        db[offset] = value
    out.write_bytes(envelope(bytes(db)))
    return out


@pytest.mark.parametrize("case", sorted(HEADERS))
async def test_a_header_sqlite_cannot_use_is_never_blamed_on_the_working_directory(
    case: str, good: Path, tmp_path: Path
) -> None:
    """Each header is one line from `inspect` or read as it is, and a one-shot sync starts a whole new file: a write
    version of 3 opened read-only, and every sync into the file failed as "cannot use the working file ... attempt to
    write a readonly database" (WorkDirError: the temp dir named as the cause, retryable, for good)."""
    path = _patched(good, tmp_path / "header.c1z", HEADERS[case])
    code, _, err = run_inspect(path)
    assert code in (0, 2), err
    if code:
        assert err.startswith(f"baton-datadog: inspect: {path}: ")
        assert err.count("\n") == 1
    work = tmp_path / "work"
    work.mkdir()
    await _one_shot_into(path, work)
