"""A c1z is untrusted input (issue 11 §9) and may come from an old Go SDK (issue 8 §4).

Whatever the bytes, `inspect` and a one-shot sync into an existing `--file` end with one clear line naming the
file and what was wrong — or succeed. Never a traceback, never a hang, never a gigabyte in the temp dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog
import zstandard
from hypothesis import example, given
from hypothesis import strategies as st

from connector.baton.c1z import envelope
from connector.baton.c1z.errors import C1ZFormatError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.c1z.store import C1ZStore
from connector.baton.sync.state import SETTINGS_KEY
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.c1z_fixtures import FIXTURE_DIR
from tests.independent.c1z.hostile import run_inspect

OLD_SMALL = FIXTURE_DIR / "old-sdk-v0.1.14.small.c1z"
OLD_MODERATE = FIXTURE_DIR / "old-sdk-v0.1.14.moderate.c1z"
SAMPLE = FIXTURE_DIR / "sync-in-progress.c1z"
ROOT = Path(__file__).resolve().parents[2]


def db_of(c1z: Path) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(c1z.read_bytes()[5:])


def c1z_of(db: bytes, *, content_size: bool = True) -> bytes:
    frame = zstandard.ZstdCompressor(level=1, write_checksum=True, write_content_size=content_size).compress(db)
    return envelope.MAGIC_V1 + frame


def rewritten(c1z: Path, tmp: Path, *statements: str) -> Path:
    """`c1z` with SQL applied to its database: a structurally valid file with hostile content."""
    db = tmp / "edit.sqlite"
    db.write_bytes(db_of(c1z))
    conn = sqlite3.connect(db)
    for sql in statements:  # one statement each
        conn.execute(sql)
    conn.commit()
    conn.close()
    out = tmp / f"edited-{len(list(tmp.iterdir()))}.c1z"
    out.write_bytes(c1z_of(db.read_bytes()))
    return out


_BOMBS: dict[bool, bytes] = {}


def _bomb(tmp: Path, *, declared: bool) -> Path:
    """~40 KB that decompresses to 1 GiB of zeros (the attack in issue 11 §9); made once per run."""
    if declared not in _BOMBS:
        cctx = zstandard.ZstdCompressor(level=1, write_content_size=declared)
        zeros = b"\0" * (1 << 20)
        chunks = [envelope.MAGIC_V1]
        writer = cctx.compressobj(size=(16 + (1 << 30)) if declared else -1)
        chunks.append(writer.compress(b"SQLite format 3\x00"))
        for _ in range(1024):
            chunks.append(writer.compress(zeros))
        chunks.append(writer.flush())
        _BOMBS[declared] = b"".join(chunks)
    path = tmp / "bomb.c1z"
    path.write_bytes(_BOMBS[declared])
    return path


def _fifo(tmp: Path) -> Path:
    path = tmp / "fifo.c1z"
    os.mkfifo(path)
    return path


def _loop(tmp: Path) -> Path:
    (tmp / "a.c1z").symlink_to(tmp / "b.c1z")
    (tmp / "b.c1z").symlink_to(tmp / "a.c1z")
    return tmp / "a.c1z"


def _sparse_zeros(tmp: Path) -> Path:
    """A frame header, then 16 MiB of zeros that take no disk: read as empty zstd blocks, one per 3 bytes (a 30 MB
    one kept inspect walking them for 45 s; gigabytes cost nothing to make)."""
    path = tmp / "sparse.c1z"
    with path.open("wb") as file:
        file.write(envelope.MAGIC_V1 + bytes.fromhex("28b52ffd0400"))  # a frame header: 1 KiB window, checksum
        file.truncate(16 << 20)
    return path


def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(tmp: Path) -> Path:
        path = tmp / name
        path.write_bytes(data)
        return path

    return make


GOOD = SAMPLE.read_bytes()
# 80 KB that do not compress: the decompression cap (1000x the file) then admits a database of 80 MB.
_PADDING = ("CREATE TABLE padding (noise blob)", "INSERT INTO padding VALUES (randomblob(80000))")
HOSTILE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "directory": (lambda tmp: tmp, "is a directory"),
    "fifo": (_fifo, "is a FIFO"),
    "symlink loop": (_loop, "cannot open"),
    "device": (lambda tmp: Path("/dev/null"), "is a device"),
    "bad magic": (_write("gz.c1z", b"\x1f\x8b\x08 gzip"), "bad magic"),
    "v3": (_write("v3.c1z", b"C1Z3\x00\x00\x00\x00"), "v3 (Pebble)"),
    "truncated": (_write("cut.c1z", GOOD[: len(GOOD) // 2]), "truncated"),
    "trailing bytes": (_write("tail.c1z", GOOD + b"junk"), "unexpected bytes after the zstd frame"),
    "sparse zeros": (_sparse_zeros, "corrupt zstd body (an empty block before the last)"),
    # zstd's metadata frame (magic 0x184D2A5?, then its length): was called "truncated".
    "a skippable frame first": (
        _write("skip.c1z", GOOD[:5] + bytes.fromhex("532a4d1804000000") + b"meta" + GOOD[5:]),
        "a skippable zstd frame where the database's frame belongs",
    ),
    "garbage zstd": (_write("junk.c1z", envelope.MAGIC_V1 + b"\x28\xb5\x2f\xfd\x04\x00" + bytes(range(7, 71))), "zstd"),
    "not sqlite": (_write("text.c1z", c1z_of(b"hello, not a database" * 10)), "not a SQLite database"),
    "garbage sqlite": (
        _write("broken.c1z", c1z_of(db_of(SAMPLE)[:100] + b"\xff" * 40_000)),
        "SQLite database",
    ),
    "bomb with size": (lambda tmp: _bomb(tmp, declared=True), "cap"),
    "bomb without size": (lambda tmp: _bomb(tmp, declared=False), "cap"),
    "no tables": (lambda tmp: rewritten(SAMPLE, tmp, "DROP TABLE v1_grants"), "no table v1_grants"),
    "missing column": (
        lambda tmp: rewritten(SAMPLE, tmp, "ALTER TABLE v1_sync_runs DROP COLUMN sync_token"),
        "lacks the column(s) sync_token",
    ),
    # Rows are paged by id: a table whose id is not its rowid (a copy made with CREATE TABLE AS, which declares it
    # INT) may hold NULL or repeated ids, and a listing silently missed rows (1,000 of 1,665 grants, exit 0).
    "an id that is not the rowid": (
        lambda tmp: rewritten(
            SAMPLE,
            tmp,
            "CREATE TABLE copied AS SELECT * FROM v1_resources",
            "DROP TABLE v1_resources",
            "ALTER TABLE copied RENAME TO v1_resources",
            "UPDATE v1_resources SET id = 1",
        ),
        "table v1_resources: its id column is not the table's integer primary key",
    ),
    # Sync runs are read before anything else: a value of the wrong type ended a sync into the file as
    # "unexpected error: ValueError"; it is damage, found on opening (inspect: exit 2, not 1).
    "a sync run of the wrong type": (
        lambda tmp: rewritten(SAMPLE, tmp, "UPDATE v1_sync_runs SET started_at = 42"),
        "v1_sync_runs row 1 holds a value of the wrong type",
    ),
    # The file's own SQL, run on every read or write: a view over an endless recursive query hung inspect for
    # good. These are harmless stand-ins, so the test cannot hang; the refusal is what is tested.
    "a view for a table": (
        lambda tmp: rewritten(
            SAMPLE, tmp, "ALTER TABLE v1_grants RENAME TO kept", "CREATE VIEW v1_grants AS SELECT * FROM kept"
        ),
        "holds a view 'v1_grants'",
    ),
    "a trigger": (
        lambda tmp: rewritten(
            SAMPLE, tmp, "CREATE TRIGGER wipe AFTER INSERT ON v1_grants BEGIN DELETE FROM v1_resources; END"
        ),
        "holds a trigger 'wipe'",
    ),
    # Run on every row a resumed sync stores, whatever they cost: a 4 KB file with an index on
    # length(printf('%.*c', 100000000, 'x')) kept a one-shot sync storing 2,456 grants at 0.4 s each. Stand-ins
    # again: the refusal is what is tested.
    "an index on an expression": (
        lambda tmp: rewritten(SAMPLE, tmp, "CREATE INDEX costly ON v1_grants (length(data))"),
        "holds an index on an expression 'costly'",
    ),
    "a partial index of its own": (
        lambda tmp: rewritten(SAMPLE, tmp, "CREATE INDEX costly ON v1_grants (sync_id) WHERE length(data) > 1"),
        "holds a partial index 'costly'",
    ),
    "a CHECK constraint": (
        lambda tmp: rewritten(
            SAMPLE,
            tmp,
            "DROP TABLE v1_assets",
            "CREATE TABLE v1_assets (id integer primary key, external_id text not null, content_type text not null, "
            "data blob not null, sync_id text not null, discovered_at datetime not null, CHECK (length(data) > 0))",
        ),
        "holds a table with a CHECK constraint 'v1_assets'",
    ),
    "a generated column": (
        lambda tmp: rewritten(
            SAMPLE, tmp, "ALTER TABLE v1_grants ADD COLUMN size integer GENERATED ALWAYS AS (length(data)) VIRTUAL"
        ),
        "holds a generated column 'v1_grants.size'",
    ),
    "a default that is an expression": (
        lambda tmp: rewritten(
            SAMPLE,
            tmp,
            "DROP TABLE v1_assets",
            "CREATE TABLE v1_assets (id integer primary key, external_id text not null, content_type text not null "
            "default (lower('X')), data blob not null, sync_id text not null, discovered_at datetime not null)",
        ),
        "holds a default that is an expression, on 'v1_assets.content_type'",
    ),
    "a virtual table": (
        lambda tmp: rewritten(
            SAMPLE,
            tmp,
            "ALTER TABLE v1_assets RENAME TO kept",
            "CREATE VIRTUAL TABLE v1_assets USING fts5(external_id, data)",
        ),
        "holds a virtual table 'v1_assets'",
    ),
    # Rules on which rows a write keeps. A one-shot sync into the first file stored none of its 99 grants (IGNORE on
    # the NULL expansion most grants have) and into the second 3 of 33 resources (REPLACE: one per type), and each
    # saved its sync as complete, without a word.
    "a conflict clause": (
        lambda tmp: rewritten(
            SAMPLE,
            tmp,
            "DROP INDEX idx_grants_sync_expansion_v1",
            "ALTER TABLE v1_grants DROP COLUMN expansion",
            "ALTER TABLE v1_grants ADD COLUMN expansion blob NOT NULL ON CONFLICT IGNORE DEFAULT ''",
        ),
        "holds a table with a conflict clause (ON CONFLICT) 'v1_grants'",
    ),
    "a unique constraint that replaces rows": (
        lambda tmp: rewritten(
            SAMPLE,
            tmp,
            "CREATE TABLE copied (id integer primary key, resource_type_id text not null UNIQUE ON CONFLICT REPLACE, "
            "external_id text not null, parent_resource_type_id text, parent_resource_id text, data blob not null, "
            "sync_id text not null, discovered_at datetime not null)",
            "DROP TABLE v1_resources",
            "ALTER TABLE copied RENAME TO v1_resources",
        ),
        "holds a table with a conflict clause (ON CONFLICT) 'v1_resources'",
    ),
    "a collation": (
        lambda tmp: rewritten(SAMPLE, tmp, "ALTER TABLE v1_assets ADD COLUMN note text COLLATE NOCASE"),
        "holds a table comparing text by a collation of its own 'v1_assets'",
    ),
    "an index with a collation": (
        lambda tmp: rewritten(
            SAMPLE,
            tmp,
            "DROP INDEX idx_grants_external_sync_v1",
            "CREATE UNIQUE INDEX idx_grants_external_sync_v1 ON v1_grants (external_id COLLATE NOCASE, sync_id)",
        ),
        "holds an index comparing text by a collation of its own 'idx_grants_external_sync_v1'",
    ),
    "many tables": (
        lambda tmp: rewritten(
            SAMPLE, tmp, *(f"CREATE TABLE extra{n} (id integer primary key, note text)" for n in range(1000))
        ),
        "not a c1z database (it holds 1,022 tables, indexes and other objects; a c1z holds a few dozen, at most 1,000",
    ),
    # Every use of a file reads all its sync runs. A 1 MB file of 3 million runs took inspect 1.1 GB and three
    # minutes; one whose token was 600 MB of one letter (incompressible padding lifts the decompression cap) took
    # 1.2 GB. Both are refused before a run is read.
    "many sync runs": (
        lambda tmp: rewritten(
            SAMPLE,
            tmp,
            "DROP INDEX idx_sync_runs_sync_id_v1",
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10000) "
            "INSERT INTO v1_sync_runs (sync_id, started_at, sync_token) SELECT x, '', '' FROM n",
        ),
        "v1_sync_runs holds 10,001 sync runs, more than the 10,000 a c1z may hold",
    ),
    "a long sync id": (
        lambda tmp: rewritten(SAMPLE, tmp, "UPDATE v1_sync_runs SET sync_id = printf('%.*c', 1025, 'k')"),
        "v1_sync_runs row 1 holds a sync id, time or type longer than 1,024 characters",
    ),
    "a state token over the value limit": (
        lambda tmp: rewritten(
            SAMPLE, tmp, *_PADDING, f"UPDATE v1_sync_runs SET sync_token = printf('%.*c', {(64 << 20) + 1}, 'a')"
        ),
        "damaged SQLite database: a value larger than 64 MiB",
    ),
    "state tokens together over the limit": (
        lambda tmp: rewritten(
            SAMPLE,
            tmp,
            *_PADDING,
            f"UPDATE v1_sync_runs SET sync_token = printf('%.*c', {22 << 20}, 'a')",
            "INSERT INTO v1_sync_runs (sync_id, started_at, sync_token, ended_at) "
            "SELECT 'b' || sync_id, started_at, sync_token, ended_at FROM v1_sync_runs",
            "INSERT INTO v1_sync_runs (sync_id, started_at, sync_token, ended_at) "
            "SELECT 'c' || sync_id, started_at, sync_token, ended_at FROM v1_sync_runs WHERE id = 1",
        ),
        "the state tokens and stats of its 3 sync runs take more than 64 MiB",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_inspect_names_the_file_and_the_problem(case: str, tmp_path: Path) -> None:
    make, phrase = HOSTILE[case]
    path = make(tmp_path)
    code, out, err = run_inspect(path)
    assert code == 2
    assert out == ""
    assert err.startswith(f"baton-datadog: inspect: {path}")
    assert phrase in err
    assert len(err.splitlines()) == 1


def test_a_value_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    """Any value of the file, not only the sync runs': a resource type id of 64 MiB was read, grouped and printed."""
    path = rewritten(
        SAMPLE,
        tmp_path,
        *_PADDING,
        f"UPDATE v1_resources SET resource_type_id = printf('%.*c', {(64 << 20) + 1}, 'u') WHERE id = 1",
    )
    code, out, err = run_inspect(path)
    assert (code, out) == (1, "")
    assert err == f"baton-datadog: inspect: {path}: cannot read v1_resources: a value larger than 64 MiB\n"


def test_bad_rows_are_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    blob = rewritten(SAMPLE, tmp_path, "UPDATE v1_resources SET data = x'ffffffff'")
    code, _, err = run_inspect(blob, "--resources", "user")
    assert (code, err.startswith(f"baton-datadog: inspect: {blob}: cannot read v1_resources")) == (1, True)


# Empty annotations (field 4, length 0) just past the cap: valid protobuf that decodes to ~30x its size in memory.
_SWOLLEN = b"\x22\x00" * (2 << 20) + b"\x22\x00"


@pytest.mark.parametrize(
    ("statement", "value", "flags"),
    [
        # 27 KB of c1z held 50 MB of them: inspect took 1.5 GB and 42 s to list 10 users. Refused unread now.
        (
            "UPDATE v1_resources SET data = ? WHERE resource_type_id = 'user'",
            _SWOLLEN,
            ("--resources", "user"),
        ),
        # Text where a blob belongs: the error quoted the whole text ("Could not decode to UTF-8 column 'data' with
        # text '...'"), a row of any size on one line.
        ("UPDATE v1_resources SET data = CAST(data AS TEXT) || ?", "tail", ("--resources", "user")),
        ("UPDATE v1_resource_types SET data = ?", 42, ()),
    ],
)
def test_an_object_that_is_no_blob_within_the_cap_is_refused_unread(
    tmp_path: Path, statement: str, value: object, flags: tuple[str, ...]
) -> None:
    db = tmp_path / "edit.sqlite"
    db.write_bytes(db_of(SAMPLE))
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute(statement, (value,))
        conn.commit()
    path = tmp_path / "swollen.c1z"
    path.write_bytes(c1z_of(db.read_bytes()))
    code, _, err = run_inspect(path, *flags)
    assert code == 1
    assert re.fullmatch(
        rf"baton-datadog: inspect: {re.escape(str(path))}: cannot read v1_\w+: v1_\w+ row \d+ holds an object that is not a blob of "
        r"at most 4 MiB\n",
        err,
    ), err


def test_the_cli_on_a_fifo_and_a_bomb_prints_one_line(tmp_path: Path) -> None:
    for path in (_fifo(tmp_path), _bomb(tmp_path, declared=False)):
        done = subprocess.run(
            [sys.executable, "-m", "connector", "inspect", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=ROOT,
        )
        assert done.returncode == 2
        assert "Traceback" not in done.stderr
        assert done.stderr.startswith(f"baton-datadog: inspect: {path}")


def test_the_cap_is_stated_and_bounds_the_temp_dir(tmp_path: Path) -> None:
    bomb = _bomb(tmp_path, declared=False)
    with pytest.raises(C1ZFormatError) as caught:
        C1ZReader(bomb, tmp_dir=tmp_path)
    assert f"more than {envelope.decompression_cap(bomb.stat().st_size):,} bytes" in str(caught.value)
    assert "1000x its size, at least 64 MiB, at most 10 GiB" in str(caught.value)
    assert [p.name for p in tmp_path.iterdir()] == ["bomb.c1z"], "the partial copy is removed"


@pytest.mark.parametrize("case", ["directory", "fifo", "symlink loop", "bad magic", "v3", "bomb with size"])
async def test_one_shot_refuses_what_is_not_a_c1z_and_leaves_it_alone(case: str, tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    make, phrase = HOSTILE[case]
    path = make(target)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(C1ZFormatError, match=re.escape(phrase)):
        await sync_to_file(syncers(Org(), Faults()), path, options(), tmp_dir=tmp_path)
    if before is not None:
        assert path.read_bytes() == before


@pytest.mark.parametrize(
    "case",
    [
        "truncated",
        "trailing bytes",
        "garbage sqlite",
        "no tables",
        "an id that is not the rowid",
        "a sync run of the wrong type",
        "a view for a table",
        "a trigger",
        "a virtual table",
        "an index on an expression",
        "a partial index of its own",
        "a CHECK constraint",
        "a generated column",
        "a default that is an expression",
        "many sync runs",
        "a state token over the value limit",
        "a conflict clause",
        "a unique constraint that replaces rows",
        "a collation",
        "an index with a collation",
        "many tables",
    ],
)
async def test_one_shot_restarts_over_a_damaged_c1z(case: str, tmp_path: Path) -> None:
    """A damaged working file is detected and the sync starts over; the file ends up a complete sync, holding
    nothing of the old file's schema: exactly the schema of a new file."""
    make, _ = HOSTILE[case]
    path = make(tmp_path)
    org = Org()
    result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    assert not result.resumed
    clean = tmp_path / "clean.c1z"
    await sync_to_file(syncers(org, Faults()), clean, options(), tmp_dir=tmp_path)
    schema = "SELECT type, name, sql FROM sqlite_master ORDER BY type, name"
    with C1ZReader(clean) as reader:
        expected = reader.connection.execute(schema).fetchall()
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert run.finished
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
        assert reader.connection.execute(schema).fetchall() == expected


async def test_the_files_query_planner_statistics_do_not_steer_the_store(tmp_path: Path) -> None:
    """ANALYZE's `sqlite_stat1` is the file's word on its tables' shape, and SQLite plans by it: made-up figures
    turned the lookup of a resumed run's stored parents (`stored_resources`, one per page) into a scan of every row
    of v1_resources, and the saved file carried them on."""
    path = rewritten(
        SAMPLE,
        tmp_path,
        "ANALYZE",
        "DELETE FROM sqlite_stat1",
        "INSERT INTO sqlite_stat1 VALUES ('v1_resources', 'idx_resources_parent_resource_id_v1', '10000000 10000000 10000000')",
        "INSERT INTO sqlite_stat1 VALUES ('v1_resources', NULL, '10000000')",
    )
    lookup = (
        "EXPLAIN QUERY PLAN SELECT resource_type_id, external_id FROM v1_resources "
        "WHERE sync_id = ? AND external_id IN (?, ?)"
    )
    saved = tmp_path / "saved.c1z"
    store = await C1ZStore.open(path, tmp_path)
    try:
        plan = await store._call(lambda: store._db.conn.execute(lookup, ("s", "a", "b")).fetchall())
        assert [step[3] for step in plan] == [
            "SEARCH v1_resources USING INDEX idx_resources_parent_resource_id_v1 (external_id=? AND sync_id=?)"
        ]
        await store.save(saved)
    finally:
        await store.close()
    with C1ZReader(saved) as reader:
        schema = reader.connection.execute("SELECT name FROM sqlite_master WHERE name LIKE 'sqlite%'").fetchall()
        assert schema == [], "the saved file holds no statistics"


# -- old Go SDK files (issue 8 §4) ----------------------------------------------------------------------------


@pytest.mark.parametrize(("fixture", "counts"), [(OLD_SMALL, (71, 17, 78)), (OLD_MODERATE, (1052, 92, 1665))])
def test_inspect_shows_an_old_sdk_file(fixture: Path, counts: tuple[int, int, int]) -> None:
    code, out, err = run_inspect(fixture)
    assert code == 0, err
    summary = json.loads(out)
    (run,) = summary["sync_runs"]
    assert run["type"] == "full", "the missing sync_type column reads as Go's default"
    assert run["parent_sync_id"] == ""
    assert run["ended_at"].startswith("2026-12-01 21:"), "nanosecond timestamps shown as written"
    totals = tuple(sum(c[k] for c in summary["counts"]) for k in ("resources", "entitlements", "grants"))
    assert totals == counts
    code, out, _ = run_inspect(fixture, "--grants")
    assert code == 0
    assert len(json.loads(out)) == counts[2]


def test_a_go_file_of_slim_grants_lists_what_each_grant_is(tmp_path: Path) -> None:
    """A Go writer with `WithV2GrantsWriter` keeps only a grant's id and annotations in its blob; Go's readers rebuild
    the entitlement {id, resource id} and principal {id} from the row's columns (c1z-format.md §2.5). Every grant was
    listed with neither (`"entitlement": ""`, `"principal": ":"`)."""
    from connector.baton.pb.c1.connector.v2 import grant_pb2

    full = FIXTURE_DIR / "sync.36zfOAoWMxQdISbixanQCRBiX7E.expanded.c1z"
    db = tmp_path / "edit.sqlite"
    db.write_bytes(db_of(full))
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for row_id, blob in conn.execute("SELECT id, data FROM v1_grants").fetchall():
            grant = grant_pb2.Grant.FromString(blob)
            grant.ClearField("entitlement")
            grant.ClearField("principal")
            conn.execute("UPDATE v1_grants SET data = ? WHERE id = ?", (grant.SerializeToString(), row_id))
        conn.commit()
    slim = tmp_path / "slim.c1z"
    slim.write_bytes(c1z_of(db.read_bytes()))

    code, out, err = run_inspect(full, "--grants")
    assert code == 0, err
    expected = json.loads(out)
    assert all(row["entitlement"] and row["principal"] != ":" for row in expected)
    code, out, err = run_inspect(slim, "--grants")
    assert code == 0, err
    assert json.loads(out) == expected
    with C1ZReader(full) as reader:
        whole = {g.id: (g.entitlement.id, g.entitlement.resource.id, g.principal.id) for g in reader.grants()}
    with C1ZReader(slim) as reader:
        stubs = {g.id: (g.entitlement.id, g.entitlement.resource.id, g.principal.id) for g in reader.grants()}
    assert stubs == whole


async def test_one_shot_replaces_an_old_sdk_file(tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"
    shutil.copyfile(OLD_MODERATE, path)
    org = Org()
    result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    assert not result.resumed
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished, run.sync_type) == (result.sync_id, True, "full")
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
        assert sum(c["resources"] for c in reader.counts_by_type().values()) == org.users + org.groups + org.roles


async def test_one_shot_resumes_its_own_sync_in_an_old_sdk_file(tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"
    shutil.copyfile(OLD_SMALL, path)
    org = Org()
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=6)), path, options(concurrency=1), tmp_dir=tmp_path)
    with C1ZReader(path) as reader:
        assert [r.finished for r in reader.sync_runs()] == [True, False], "old sync kept, ours saved unfinished"
    result = await sync_to_file(syncers(org, Faults()), path, options(concurrency=1), tmp_dir=tmp_path)
    assert result.resumed
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert run.sync_id == result.sync_id
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)


async def test_an_unfinished_run_with_a_foreign_token_starts_over(tmp_path: Path) -> None:
    """An old SDK's token (no "version") cannot be resumed faithfully: a new sync replaces it, no crash."""
    path = rewritten(
        OLD_SMALL, tmp_path, "UPDATE v1_sync_runs SET ended_at = NULL, started_at = datetime('now', 'localtime')"
    )
    result = await sync_to_file(syncers(Org(), Faults()), path, options(), tmp_dir=tmp_path)
    assert not result.resumed
    with C1ZReader(path) as reader:
        assert [r.sync_id for r in reader.sync_runs()] == [result.sync_id]


_DAMAGED_TOKENS = [
    "[" * 100_000,  # RecursionError
    '{"version": 1, "action_order": ["a"], "actions_map": {}}',  # KeyError
    '{"version": 1, "action_order": ["a"], "actions_map": []}',  # TypeError
    '{"version": 1, "action_order": [{"x": 1}], "actions_map": {"a": {}}}',  # unhashable
    '{"version": 1, "action_order": ["a"], "actions_map": {"a": "op"}}',  # str indices
    '{"version": 1, "current_action_id": [1]}',
    '{"version": 1, "completed_actions_count": 1e400}',  # OverflowError
    '{"version": 1, "action_order": 5}',
]


@pytest.mark.parametrize("token", _DAMAGED_TOKENS, ids=range(len(_DAMAGED_TOKENS)))
async def test_an_unfinished_run_with_a_damaged_token_starts_over(tmp_path: Path, token: str) -> None:
    """The token is a c1z's bytes, untrusted: any damage means "cannot be resumed" (a new sync), never a
    KeyError or TypeError traceback out of the one-shot resume."""
    path = rewritten(
        OLD_SMALL,
        tmp_path,
        "UPDATE v1_sync_runs SET ended_at = NULL, started_at = datetime('now', 'localtime'), "
        f"sync_token = '{token.replace(chr(39), chr(39) * 2)}'",
    )
    result = await sync_to_file(syncers(Org(), Faults()), path, options(), tmp_dir=tmp_path)
    assert not result.resumed
    with C1ZReader(path) as reader:
        assert [r.sync_id for r in reader.sync_runs()] == [result.sync_id]


async def _resumed_over_damage(tmp_path: Path, fail_at_call: int, damage: str) -> tuple[Path, str]:
    """Interrupt a sync at `fail_at_call`, apply the SQL `damage` to its file, run again: the run must start over
    with one warning and finish whole. Returns the file and the warning's error text."""
    org = Org()
    interrupted = tmp_path / "interrupted.c1z"
    with pytest.raises(InjectedFailure):
        await sync_to_file(
            syncers(org, Faults(fail_at_call=fail_at_call)), interrupted, options(concurrency=1), tmp_dir=tmp_path
        )
    path = rewritten(interrupted, tmp_path, damage)
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    assert not result.resumed
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert warning["event"] == "existing c1z is damaged; starting a new sync instead of resuming"
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
    return path, str(warning["error"])


@pytest.mark.parametrize(
    ("fail_at_call", "damage"),
    [
        (12, "UPDATE v1_resource_types SET data = x'ffff'"),  # read back as the sync resumes
        (12, "UPDATE v1_resources SET data = x'ffff' WHERE resource_type_id = 'group'"),  # entitlements phase
        (30, "UPDATE v1_resources SET data = x'ffff' WHERE resource_type_id = 'group'"),  # pending grants pages
    ],
)
async def test_an_unfinished_run_whose_rows_do_not_decode_starts_over(
    tmp_path: Path, fail_at_call: int, damage: str
) -> None:
    """Rows the resumed sync reads back that do not decode (the file passed every check on opening): a new sync,
    as for damage found on opening. The failed resume saved the same file again, so every later run failed too."""
    path, error = await _resumed_over_damage(tmp_path, fail_at_call, damage)
    assert error.startswith(f"{path}: a stored object does not decode")


_EMPTY_GROUPS = "UPDATE v1_resources SET data = x'' WHERE resource_type_id = 'group'"  # an empty Resource: no id
# Another group's blob under this row's key: g1's grants would be listed as g0's.
_SWAPPED_GROUP = (
    "UPDATE v1_resources SET data = (SELECT data FROM v1_resources WHERE external_id = 'group:g1') "
    "WHERE external_id = 'group:g0'"
)


# Stopped in the entitlements phase (12: every group is read back) or among the grants pages (30: the groups not
# done yet are).
_OTHER = "holds another resource than its key names"
_NO_OBJECT = "holds an object that is not a blob of at most 4 MiB"
_OTHER_TYPE = "holds another resource type than its key names"


@pytest.mark.parametrize(
    ("fail_at_call", "damage", "found"),
    [
        (12, _EMPTY_GROUPS, _OTHER),
        (30, _EMPTY_GROUPS, _OTHER),
        (12, _SWAPPED_GROUP, _OTHER),
        # Text where a resource's blob belongs is found before any row is read back, with the other rows of the wrong
        # type: tests/independent/c1z/test_restart_over_damage.py.
        (12, "UPDATE v1_resource_types SET data = 7", _NO_OBJECT),
        # A type under another type's key: the run went on and was saved complete with `group` keyed `junk`.
        (30, "UPDATE v1_resource_types SET external_id = 'junk' WHERE external_id = 'group'", _OTHER_TYPE),
        (12, "UPDATE v1_resource_types SET data = x''", _OTHER_TYPE),
    ],
)
async def test_an_unfinished_run_whose_rows_hold_other_resources_than_their_keys_starts_over(
    tmp_path: Path, fail_at_call: int, damage: str, found: str
) -> None:
    """Every blob is valid protobuf of some Resource: one read back as the sync resumes must be the resource its row
    is keyed by. An empty blob had its grants listed for an empty id, the connector's ValueError ending the sync
    as "unexpected error" and leaving the same file to fail every later run."""
    path, error = await _resumed_over_damage(tmp_path, fail_at_call, damage)
    assert re.fullmatch(rf"{re.escape(str(path))}: v1_resource(s|_types) row \d+ {found}", error)


def _token(**action: str) -> str:
    order = {"action_order": ["1"], "current_action_id": 1, "version": 1}
    return json.dumps({"actions_map": {"1": {"id": "1", **action}}, **order})


# Well-formed JSON in the token's shape whose actions this engine cannot run against the file's resource types.
_UNRUNNABLE_TOKENS = [
    _token(operation="bogus"),
    _token(operation="targeted-resource-sync", resource_type_id="group", resource_id="g1"),  # never in a full sync
    _token(operation="list-entitlements", resource_type_id="nope"),  # was a KeyError
    _token(operation="list-grants", resource_type_id="nope"),
    _token(operation="list-grants", resource_id="g1"),  # a resource without its type: was "no syncer for ''"
    _token(
        operation="list-resources", resource_type_id="group", parent_resource_type_id="nope", parent_resource_id="x"
    ),
    _token(operation="list-grants", resource_type_id="group", page_token="abc"),  # was a ValueError from int()
    _token(operation="list-entitlements", resource_type_id="group", page_token="²"),
    _token(operation="list-grants", resource_type_id="group", page_token="9" * 30),  # was an OverflowError
    # Ids above current_action_id: the entitlements fan-out pushes "0000000002" again, and finishing it dropped the
    # grants phase from a sync saved as complete.
    json.dumps(
        {
            "actions_map": {
                "0000000002": {"id": "0000000002", "operation": "list-grants"},
                "0000000003": {"id": "0000000003", "operation": "list-entitlements"},
            },
            "action_order": ["0000000002", "0000000003"],
            "version": 1,
        }
    ),
]


@pytest.mark.parametrize("token", _UNRUNNABLE_TOKENS, ids=range(len(_UNRUNNABLE_TOKENS)))
async def test_an_unfinished_run_whose_token_names_what_the_engine_cannot_run_starts_over(
    tmp_path: Path, token: str
) -> None:
    """Parsing is not enough: an action the engine cannot run against this file means "cannot be resumed" too
    (a new, complete sync), not a KeyError, a ValueError or an incomplete sync saved as finished."""
    org = Org()
    interrupted = tmp_path / "interrupted.c1z"
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=12)), interrupted, options(concurrency=1), tmp_dir=tmp_path)
    with C1ZReader(interrupted) as reader:
        recorded = json.loads(reader.sync_runs()[0].sync_token)[SETTINGS_KEY]
    # With the settings the run was started with, so only the actions can stop the resume.
    token = json.dumps({**json.loads(token), SETTINGS_KEY: recorded})
    path = rewritten(interrupted, tmp_path, f"UPDATE v1_sync_runs SET sync_token = '{token}'")
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    assert not result.resumed
    assert [e["event"] for e in events if e["log_level"] == "warning"] == [
        "unfinished sync cannot be resumed; starting a new one"
    ]
    with C1ZReader(path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)


# -- fuzz ------------------------------------------------------------------------------------------------------

_SAMPLE_DB = db_of(SAMPLE)


def _inspect_bytes(data: bytes, *flags: str) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-c1z-") as tmp:
        path = Path(tmp) / "f.c1z"
        path.write_bytes(data)
        code, _, err = run_inspect(path, *flags)
    assert code in (0, 1, 2)
    if code:
        assert err.startswith(f"baton-datadog: inspect: {path}"), err
        assert len(err.splitlines()) == 1, err


@pytest.mark.fuzz
@given(
    edits=st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(0, len(GOOD))),
)
def test_fuzz_mutated_c1z_bytes(edits: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(GOOD)
    for at, value in edits:
        data[at] = value
    _inspect_bytes(bytes(data[:cut] if cut is not None else data))


@pytest.mark.fuzz
@given(
    edits=st.lists(st.tuples(st.integers(0, len(_SAMPLE_DB) - 1), st.integers(0, 255)), min_size=1, max_size=16),
    listing=st.sampled_from([(), ("--grants",), ("--entitlements",), ("--resources", "user")]),
)
# A byte of a user's trait zeroed: its profile did not decode, and the failure line named no file (make fuzz).
@example(edits=[(138954, 0)], listing=("--resources", "user"))
def test_fuzz_mutated_database_in_a_valid_envelope(edits: list[tuple[int, int]], listing: tuple[str, ...]) -> None:
    data = bytearray(_SAMPLE_DB)
    for at, value in edits:
        data[at] = value
    _inspect_bytes(c1z_of(bytes(data), content_size=False), *listing)


async def test_every_connection_to_a_file_treats_its_schema_as_untrusted(tmp_path: Path) -> None:
    """SQLite in this build trusts a database's schema by default (`trusted_schema` 1): SQL that a file brings in a
    view, trigger, index expression or default could call functions with side effects. The schema checks refuse
    such objects; the pragma is the second line, on the reader's connection and the store's."""
    with C1ZReader(SAMPLE) as reader:
        assert reader.connection.execute("PRAGMA trusted_schema").fetchone() == (0,)
    shutil.copy(SAMPLE, tmp_path / "s.c1z")
    store = await C1ZStore.open(tmp_path / "s.c1z")
    try:
        pragma = await store._call(lambda: store._db.conn.execute("PRAGMA trusted_schema").fetchall())
        assert pragma == [(0,)]
    finally:
        await store.close()


async def test_a_restart_over_a_damaged_unfinished_run_that_fails_keeps_the_finished_sync_beside_it(
    tmp_path: Path,
) -> None:
    """A file holding a finished sync and, beside it, an unfinished run whose rows turn out damaged as it resumes: a
    new sync starts in a new file. When that one fails too, its partial save replaced the file, and the finished sync
    (what Go readers and `inspect` show, what the file was good for) was gone, for a run the next one may resume. The
    file is left as it was instead: the error says why the run failed, and the next run starts over again."""
    org = Org()
    path = tmp_path / "sync.c1z"
    finished = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=12)), path, options(concurrency=1), tmp_dir=tmp_path)
    damaged = rewritten(
        path,
        tmp_path,
        "UPDATE v1_resources SET data = x'ffff' WHERE resource_type_id = 'group' "
        "AND sync_id = (SELECT sync_id FROM v1_sync_runs WHERE ended_at IS NULL)",
    )
    before = damaged.read_bytes()
    with structlog.testing.capture_logs() as events, pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, Faults(fail_at_call=20)), damaged, options(), tmp_dir=tmp_path)
    assert "existing c1z is damaged; starting a new sync instead of resuming" in [e["event"] for e in events]
    assert damaged.read_bytes() == before, "the file keeps its finished sync"
    with C1ZReader(damaged, tmp_path) as reader:
        assert reader.default_sync_id() == finished.sync_id
    done = await sync_to_file(syncers(org, Faults()), damaged, options(), tmp_dir=tmp_path)
    with C1ZReader(damaged, tmp_path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (done.sync_id, True)
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
