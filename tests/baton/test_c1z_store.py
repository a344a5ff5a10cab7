"""The c1z store: schema identical to the Go SDK's, envelope, row encoding, sync run record, atomic save."""

from __future__ import annotations

import contextlib
import json
import random
import re
import sqlite3
from pathlib import Path

import pytest
import structlog
import zstandard
from google.protobuf.message import Message

from connector.baton import annotations as ann
from connector.baton import builders as b
from connector.baton.c1z import envelope, rows
from connector.baton.c1z import store as c1z_store
from connector.baton.c1z.errors import C1ZFormatError, C1ZWriteError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.c1z.schema import DDL, parse_sqlite_time, sqlite_time
from connector.baton.c1z.store import C1ZStore
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2, grant_pb2, resource_pb2
from tests.c1z_fixtures import FIXTURE_DIR, decompressed_db

NEWEST_GOLDEN = FIXTURE_DIR / "sync-in-progress.c1z"
UNEXPANDED = FIXTURE_DIR / "sync.36zfOAoWMxQdISbixanQCRBiX7E.unexpanded.c1z"
EXPANDED = FIXTURE_DIR / "sync.36zfOAoWMxQdISbixanQCRBiX7E.expanded.c1z"

# Where the spec says the newest golden file is older than the current Go schema (docs/spec/c1z-format.md §2.12).
NEWER_THAN_GOLDEN_COLUMNS = {
    ("v1_sync_runs", "stats"),
    ("v1_sync_runs", "ingest_invariant_generation"),
    ("v1_sync_runs", "ingest_invariant_coverage"),
    ("v1_sync_runs", "ingest_invariant_mode"),
}
NEWER_THAN_GOLDEN_INDEXES = {"idx_grants_entitlement_sync_grant_v1"}

USER = b.resource_type("user", "User", [b.Trait.TRAIT_USER])
GROUP = b.resource_type("group", "Group", [b.Trait.TRAIT_GROUP])


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def schema_of(db: Path) -> tuple[dict[tuple[str, str], tuple[str, int, str | None]], dict[str, tuple[object, ...]]]:
    """Columns {(table, column): (declared type, notnull, default)} and indexes {name: (table, unique, cols, partial)}."""
    conn = sqlite3.connect(db)
    columns: dict[tuple[str, str], tuple[str, int, str | None]] = {}
    indexes: dict[str, tuple[object, ...]] = {}
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        for _, name, decl, notnull, default, _pk in conn.execute(f"PRAGMA table_info({table})"):
            columns[(table, name)] = (decl.lower(), notnull, default)
        for _, name, unique, _origin, partial in conn.execute(f"PRAGMA index_list({table})"):
            cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})"))
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()[0]
            where = sql.lower().split(" where ", 1)[1].strip() if partial else None
            indexes[name] = (table, unique, cols, where)
    conn.close()
    return columns, indexes


async def write_sample(path: Path) -> str:
    store = await C1ZStore.create()
    try:
        sync_id = await store.start_sync()
        user = b.add_user_trait(b.resource(USER, "u1", "User One"), emails=["u1@example.com"])
        group = b.add_group_trait(b.resource(GROUP, "g1", "Group One"))
        child = b.resource(GROUP, "g2", "Child", parent=group.id)
        b.add_group_trait(child)
        expandable = b.grant(group, "member", b.resource_id("group", "g2"))
        expandable.annotations.append(
            ann.pack(annotation_grant_pb2.GrantExpandable(entitlement_ids=["group:g2:member"]))
        )
        await store.write(
            None,
            resource_types=[USER, GROUP],
            resources=[user, group, child],
            entitlements=[b.entitlement(group, "member"), b.entitlement(child, "member")],
            grants=[b.grant(group, "member", user.id), expandable],
        )
        await store.end_sync(json.dumps({"version": 1}), supports_diff=True)
        await store.save(path)
        return sync_id
    finally:
        await store.close()


async def test_schema_matches_the_newest_golden_fixture(tmp_path: Path) -> None:
    ours = tmp_path / "ours.c1z"
    await write_sample(ours)
    with decompressed_db(ours) as db:
        our_columns, our_indexes = schema_of(db)
    with decompressed_db(NEWEST_GOLDEN) as db:
        go_columns, go_indexes = schema_of(db)
    assert {k: v for k, v in our_columns.items() if k not in NEWER_THAN_GOLDEN_COLUMNS} == go_columns
    assert {k: v for k, v in our_indexes.items() if k not in NEWER_THAN_GOLDEN_INDEXES} == go_indexes
    # The swapped-name quirk is kept: this index is the unique (external_id, sync_id) one.
    assert our_indexes["idx_resources_parent_resource_id_v1"] == ("v1_resources", 1, ("external_id", "sync_id"), None)
    assert our_columns[("v1_sync_runs", "stats")] == ("text", 0, None)
    assert our_indexes["idx_grants_entitlement_sync_grant_v1"][2] == ("entitlement_id", "sync_id", "id")


async def test_envelope_is_magic_then_one_zstd_frame_with_size_and_checksum(tmp_path: Path) -> None:
    path = tmp_path / "s.c1z"
    await write_sample(path)
    raw = path.read_bytes()
    assert raw[:5] == b"C1ZF\x00"
    params = zstandard.get_frame_parameters(raw[5:])
    assert params.has_checksum
    assert params.content_size > 0
    assert params.window_size <= 128 << 20, "Go's reader refuses windows above 128 MiB (c1z-format.md §2.2)"
    body = zstandard.ZstdDecompressor().decompress(raw[5:])
    assert len(body) == params.content_size  # decompress() reads exactly one frame: no trailing bytes
    assert body.startswith(b"SQLite format 3\x00")
    assert not [n for n in names(tmp_path) if n.endswith(".tmp")], "the temp file is renamed away"


def page_size_of(path: Path) -> int:
    with decompressed_db(path) as db:
        conn = sqlite3.connect(db)
        size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        conn.close()
    return size


async def test_a_new_file_has_the_page_size_it_asks_for_and_an_existing_one_keeps_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # c1z-format.md §2.9 recommends 4096. The pragma takes effect only when the file's first page is written: set on
    # a connection closed before that, it was lost and the file took whatever size the SQLite build defaults to.
    assert c1z_store.PAGE_SIZE == 4096
    new = tmp_path / "new.c1z"
    await write_sample(new)
    assert page_size_of(new) == 4096
    monkeypatch.setattr(c1z_store, "PAGE_SIZE", 8192)
    other = tmp_path / "other.c1z"
    await write_sample(other)
    assert page_size_of(other) == 8192, "the store's page size is applied, not SQLite's default"
    with C1ZReader(other) as reader:
        assert len(list(reader.grants())) == 2
    go_written = tmp_path / "go.c1z"
    go_written.write_bytes(NEWEST_GOLDEN.read_bytes())
    assert page_size_of(go_written) == 4096
    store = await C1ZStore.open(go_written)
    try:
        await store.start_sync()
        await store.write(None, resource_types=[USER], resources=[b.resource(USER, "u1", "User One")])
        await store.end_sync("{}", supports_diff=True)
        await store.save(go_written)
    finally:
        await store.close()
    assert page_size_of(go_written) == 4096, "a file's page size is the file's"


async def test_a_large_database_is_compressed_at_the_fast_level_into_the_same_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past LARGE_BYTES (files saved uncompacted) level 1 is as small as level 4 for half the tail's CPU; the frame
    # stays what every reader takes: one frame with its size and checksum, the same 32 MiB window.
    assert envelope.compression_level(envelope.LARGE_BYTES - 1) == envelope.LEVEL == 4
    assert envelope.compression_level(envelope.LARGE_BYTES) == envelope.LARGE_LEVEL == 1
    sizes: list[int] = []
    chosen = envelope.compression_level

    def spied(size: int) -> int:
        sizes.append(size)
        return chosen(size)

    monkeypatch.setattr(envelope, "LARGE_BYTES", 0)  # every database counts as large
    monkeypatch.setattr(envelope, "compression_level", spied)
    path = tmp_path / "s.c1z"
    sync_id = await write_sample(path)
    assert [chosen(size) for size in sizes] == [1], "chosen once, by the database's size"
    raw = path.read_bytes()
    params = zstandard.get_frame_parameters(raw[5:])
    assert params.has_checksum
    assert params.window_size <= 1 << envelope.WINDOW_LOG  # zstd shrinks it to a smaller file's size
    assert len(zstandard.ZstdDecompressor().decompress(raw[5:])) == params.content_size == sizes[0]
    with C1ZReader(path) as reader:
        assert [run.sync_id for run in reader.sync_runs()] == [sync_id]
        assert len(list(reader.grants())) == 2


async def test_rows_follow_the_go_conventions(tmp_path: Path) -> None:
    path = tmp_path / "s.c1z"
    sync_id = await write_sample(path)
    with decompressed_db(path) as db:
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        keys = dict(
            conn.execute("SELECT external_id, parent_resource_type_id || '/' || parent_resource_id FROM v1_resources")
        )
        assert keys == {"user:u1": None, "group:g1": None, "group:g2": "group/g1"}
        expansion, needs, data = conn.execute(
            "SELECT expansion, needs_expansion, data FROM v1_grants WHERE external_id = 'group:g1:member:group:g2'"
        ).fetchone()
        assert needs == 1
        assert annotation_grant_pb2.GrantExpandable.FromString(expansion).entitlement_ids == ["group:g2:member"]
        assert b"GrantExpandable" not in data, "the annotation moves out of the blob"
        assert conn.execute(
            "SELECT count(*) FROM v1_grants WHERE needs_expansion = 0 AND expansion IS NULL"
        ).fetchone() == (1,)
        run = conn.execute(
            "SELECT sync_id, started_at, ended_at, sync_type, parent_sync_id, supports_diff, grants_backfilled, stats "
            "FROM v1_sync_runs"
        ).fetchall()
        assert len(run) == 1
        sid, started, ended, sync_type, parent, diff, backfilled, stats = run[0]
        assert (sid, sync_type, parent, diff, backfilled) == (sync_id, "full", "", 1, 1)
        stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d*[1-9])?$")
        assert stamp.match(started)
        assert stamp.match(ended)
        for (discovered,) in conn.execute("SELECT discovered_at FROM v1_resources"):
            assert stamp.match(discovered)
        assert json.loads(stats) == {
            "resource_types": 2,
            "resources": 3,
            "entitlements": 2,
            "grants": 2,
            "resources_by_resource_type": {"group": 2, "user": 1},
            "entitlements_by_resource_type": {"group": 2},
            "grants_by_resource_type": {"group": 2},
        }


async def test_reader_reattaches_the_expansion(tmp_path: Path) -> None:
    path = tmp_path / "s.c1z"
    await write_sample(path)
    with C1ZReader(path) as reader:
        grants = {g.id: g for g in reader.grants()}
    picked = ann.pick(grants["group:g1:member:group:g2"].annotations, annotation_grant_pb2.GrantExpandable)
    assert picked is not None
    assert list(picked.entitlement_ids) == ["group:g2:member"]
    # The writer moved it out of the grant's blob: it is the reader that put it back.
    with decompressed_db(path) as db_path, contextlib.closing(sqlite3.connect(db_path)) as conn:
        query = "SELECT data FROM v1_grants WHERE external_id = ?"
        (blob,) = conn.execute(query, ("group:g1:member:group:g2",)).fetchone()
    assert not grant_pb2.Grant.FromString(blob).annotations


async def test_upsert_keeps_one_row_and_the_newest_data(tmp_path: Path) -> None:
    store = await C1ZStore.create(tmp_path)
    try:
        await store.start_sync()
        await store.write(None, resource_types=[USER], resources=[b.resource(USER, "u1", "old")])
        await store.write(None, resources=[b.resource(USER, "u1", "new")])
        assert await store.count("v1_resources") == 1
        got = await store.get_resource("user", "u1")
        assert got is not None
        assert got.display_name == "new"
    finally:
        await store.close()
    assert not names(tmp_path), "closing removes the working directory"


async def write_users(path: Path, first: int, count: int) -> str:
    """A finished full sync of `count` users into `path` (a new file, or on top of the syncs already there)."""
    store = await C1ZStore.open(path)
    try:
        sync_id = await store.start_sync()
        users = [b.resource(USER, f"u{i}", f"User {i} " + "x" * 200) for i in range(first, first + count)]
        await store.write(None, resource_types=[USER], resources=users)
        stats = await store.end_sync("{}", supports_diff=True)
        assert stats == {"resource_types": 1, "resources": count, "resources_by_resource_type": {"user": count}}
        await store.keep_only(sync_id)
        await store.save(path)
        return sync_id
    finally:
        await store.close()


async def test_a_sync_on_top_of_an_older_file_counts_and_keeps_only_its_own_rows(tmp_path: Path) -> None:
    # A fresh file holds one sync's rows and skips the sync_id filters; a file with an older sync must not.
    path = tmp_path / "s.c1z"
    await write_users(path, 0, 300)
    newer = await write_users(path, 1000, 5)  # end_sync's stats assert the 5, not 305
    with C1ZReader(path) as reader:
        assert [run.sync_id for run in reader.sync_runs()] == [newer]
        assert sorted(r.id.resource for r in reader.resources("user")) == [f"u{i}" for i in range(1000, 1005)]
    with decompressed_db(path) as db:
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT count(*) FROM v1_resources").fetchone() == (5,)
        assert conn.execute("PRAGMA freelist_count").fetchone() == (0,), "a small file is saved compacted"
        conn.close()


async def test_a_large_working_file_is_saved_as_loaded_unless_much_of_it_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Past COMPACT_MAX_BYTES of live pages the load's page order compresses better than a compact copy; but
    # the pages an older sync leaves free would still be decompressed by every reader, so those are dropped.
    monkeypatch.setattr(c1z_store, "COMPACT_MAX_BYTES", 0)  # every file counts as large
    path = tmp_path / "s.c1z"
    with structlog.testing.capture_logs() as logs:
        await write_users(path, 0, 300)
    saved = [entry for entry in logs if entry["event"] == "c1z saved"]
    assert [entry["compacted"] for entry in saved] == [False]
    assert saved[0]["tail_seconds"] >= saved[0]["index_seconds"] >= 0
    with structlog.testing.capture_logs() as logs:
        newer = await write_users(path, 1000, 5)  # keep_only frees the older sync's pages
    assert [entry["compacted"] for entry in logs if entry["event"] == "c1z saved"] == [True]
    with decompressed_db(path) as db:
        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA freelist_count").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM v1_resources").fetchone() == (5,)
        conn.close()
    with C1ZReader(path) as reader:
        assert [run.sync_id for run in reader.sync_runs()] == [newer]


async def test_failed_save_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.c1z"
    await write_sample(path)
    before = path.read_bytes()

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(zstandard.ZstdCompressor, "copy_stream", broken)
    with pytest.raises(C1ZWriteError, match=f"cannot write {path}"):
        await write_sample(path)
    assert path.read_bytes() == before
    assert names(tmp_path) == ["s.c1z"]


@pytest.mark.parametrize(
    ("fixture", "resources", "entitlements", "grants"),
    [
        (UNEXPANDED, 1221, 342, 2909),
        (EXPANDED, 1221, 342, 14981),
        (NEWEST_GOLDEN, 79, None, None),
    ],
)
def test_reader_opens_go_written_files(
    fixture: Path, resources: int, entitlements: int | None, grants: int | None
) -> None:
    with C1ZReader(fixture) as reader:
        counts = reader.counts_by_type()
        assert sum(c["resources"] for c in counts.values()) == resources
        assert sum(1 for _ in reader.resources()) == resources
        if entitlements is not None:
            assert sum(1 for _ in reader.entitlements()) == entitlements
        if grants is not None:
            assert sum(1 for _ in reader.grants()) == grants


def test_reader_reattaches_expansion_of_an_old_file_in_place() -> None:
    """The unexpanded golden file predates the expansion column: GrantExpandable is still inside the blob."""
    with C1ZReader(UNEXPANDED) as reader:
        expandable = [g for g in reader.grants() if ann.has(g.annotations, annotation_grant_pb2.GrantExpandable)]
    assert len(expandable) == 409


def test_reader_refuses_what_is_not_a_v1_c1z(tmp_path: Path) -> None:
    bogus = tmp_path / "x.c1z"
    bogus.write_bytes(b"\x1f\x8b gzip, not zstd")
    with pytest.raises(C1ZFormatError, match="bad magic"):
        C1ZReader(bogus)
    pebble = tmp_path / "p.c1z"
    pebble.write_bytes(b"C1Z3\x00\x00\x00\x00\x00")
    with pytest.raises(C1ZFormatError, match="v3"):
        C1ZReader(pebble)


def test_sqlite_time_is_go_layout_in_local_time() -> None:
    from datetime import datetime

    assert sqlite_time(datetime(2025, 12, 17, 16, 31, 25, 57185).astimezone()) == "2025-12-17 16:31:25.057185"
    assert sqlite_time(datetime(2025, 12, 17, 16, 31, 25, 58720).astimezone()) == "2025-12-17 16:31:25.05872"
    assert sqlite_time(datetime(2025, 12, 17, 16, 31, 25).astimezone()) == "2025-12-17 16:31:25"
    assert parse_sqlite_time("2025-12-17 16:31:25.05872") == datetime(2025, 12, 17, 16, 31, 25, 58720)
    assert parse_sqlite_time("2025-12-17 16:31:25.123456789") == datetime(2025, 12, 17, 16, 31, 25, 123456)


def ksuid_timestamp(ksuid: str) -> int:
    """Unix seconds at which a KSUID was made (segmentio/ksuid: base 62, digits-upper-lower, 4 bytes of seconds
    since 1,400,000,000 first): the product only makes KSUIDs, so their reading lives here."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    assert len(ksuid) == 27
    number = 0
    for char in ksuid:
        number = number * 62 + alphabet.index(char)
    return int.from_bytes(number.to_bytes(20, "big")[:4], "big") + 1_400_000_000


def test_ksuid_matches_segmentio_encoding() -> None:
    # The golden sync id was made 2025-12-17 16:31 (its started_at): the KSUID's clock must agree.
    from datetime import UTC, datetime

    made = datetime.fromtimestamp(ksuid_timestamp("36zfOAoWMxQdISbixanQCRBiX7E"), UTC)
    assert (made.year, made.month, made.day) == (2025, 12, 17)
    fresh = new_ksuid(now=1_700_000_000)
    assert len(fresh) == 27
    assert re.fullmatch(r"[0-9A-Za-z]{27}", fresh)
    assert ksuid_timestamp(fresh) == 1_700_000_000
    # A zero timestamp leaves the 128-bit payload, at most 22 base-62 digits: the rest is zero padding.
    assert new_ksuid(now=1_400_000_000)[:5] == "00000"
    assert new_ksuid(now=1_700_000_001) > fresh or new_ksuid(now=1_700_000_100) > fresh
    assert new_ksuid(now=1_800_000_000) > new_ksuid(now=1_700_000_000), "KSUIDs sort by time"


async def test_stored_resources_are_told_by_type_and_id_not_by_their_joined_key() -> None:
    """The rows are keyed by `type:id`, which two (type, id) pairs can share: ("a", "b:c") and ("a:b", "c")."""
    kind = b.resource_type("a", "A", [])
    store = await C1ZStore.create()
    try:
        await store.start_sync()
        await store.write(None, resource_types=[kind], resources=[b.resource(kind, "b:c", "stored")])
        assert await store.stored_resources([("a", "b:c"), ("a:b", "c")]) == {("a", "b:c")}
        assert await store.stored_resources([("a:b", "c")]) == set()
    finally:
        await store.close()


def versioned_grant(group: resource_pb2.Resource, user: str, version: int, expands_to: str | None) -> grant_pb2.Grant:
    """A membership grant whose blob says which write it came from, expandable to `expands_to` when given."""
    metadata = annotation_grant_pb2.GrantMetadata()
    metadata.metadata.update({"version": version})
    extra: list[Message] = [metadata]
    if expands_to is not None:
        extra.append(annotation_grant_pb2.GrantExpandable(entitlement_ids=[expands_to]))
    return b.grant(group, "member", b.resource_id("user", user), annotations=extra)


def grant_rows(path: Path) -> list[tuple[object, ...]]:
    """The saved grants in id order: every column but the row id and the time, with the blob's version."""
    with decompressed_db(path) as db:
        conn = sqlite3.connect(db)
        found = conn.execute(
            "SELECT resource_type_id, resource_id, entitlement_id, principal_resource_type_id, principal_resource_id, "
            "external_id, expansion, needs_expansion, data FROM v1_grants ORDER BY id"
        ).fetchall()
        conn.close()
    out = []
    for *columns, expansion, needs, data in found:
        stored = grant_pb2.Grant.FromString(data)
        meta = annotation_grant_pb2.GrantMetadata()
        assert stored.annotations[0].Unpack(meta)
        entitlements = (
            None
            if expansion is None
            else list(annotation_grant_pb2.GrantExpandable.FromString(expansion).entitlement_ids)
        )
        out.append((*columns, entitlements, needs, int(meta.metadata["version"])))  # type: ignore[arg-type]
    return out


# Pages of one sync that store grants again (a listing repeating an item): A three times, B and C twice, E twice
# within one page, D once. Go's upsert keeps the first row and takes the newest data and expansion, with
# needs_expansion recomputed from the old and new expansion at each write.
REPEATS: list[list[tuple[str, int, str | None]]] = [
    [("a", 1, None), ("b", 1, "group:g2:member"), ("c", 1, "group:g2:member"), ("d", 1, "group:g2:member")],
    [
        ("a", 2, "group:g2:member"),
        ("b", 2, None),
        ("c", 2, "group:g3:member"),
        ("e", 1, None),
        ("e", 2, "group:g2:member"),
    ],
    [("a", 3, "group:g2:member")],
]
REPEATS_SAVED = [  # (principal, expansion, needs_expansion, version of the blob), in the order first stored
    ("a", ["group:g2:member"], 1, 3),  # none -> g2 (needs 1) -> g2 again (unchanged: still 1)
    ("b", None, 0, 2),  # g2 -> none
    ("c", ["group:g3:member"], 1, 2),  # g2 -> g3
    ("d", ["group:g2:member"], 1, 1),
    ("e", ["group:g2:member"], 1, 2),
]


async def store_repeats(path: Path, *, save_after_first_page: bool) -> None:
    group = b.add_group_trait(b.resource(GROUP, "g1", "Group One"))
    store = await C1ZStore.create()
    try:
        await store.start_sync()
        await store.write(None, resource_types=[USER, GROUP], resources=[group])
        for number, page in enumerate(REPEATS):
            await store.write(None, grants=[versioned_grant(group, *grant) for grant in page])
            if number == 0 and save_after_first_page:
                await store.save(path)  # a partial save builds every index: the later pages are upserts
        assert await store.count("v1_grants") == 5, "a grant stored twice counts once, before the save too"
        stats = await store.end_sync("{}", supports_diff=True)
        assert stats["grants"] == 5
        await store.save(path)
    finally:
        await store.close()


async def test_a_grant_stored_again_is_one_row_as_the_upsert_leaves_it(tmp_path: Path) -> None:
    # The load inserts grants without the unique (external_id, sync_id) index, which is built at the end: the
    # grants stored more than once must come out exactly as the upsert into an indexed table leaves them.
    loaded, upserted = tmp_path / "loaded.c1z", tmp_path / "upserted.c1z"
    await store_repeats(loaded, save_after_first_page=False)
    await store_repeats(upserted, save_after_first_page=True)
    rows_loaded = grant_rows(loaded)
    assert [(r[4], r[6], r[7], r[8]) for r in rows_loaded] == REPEATS_SAVED
    assert rows_loaded == grant_rows(upserted)
    assert rows_loaded[0][:6] == ("group", "g1", "group:g1:member", "user", "a", "group:g1:member:user:a")
    _, indexes = schema_of_c1z(loaded)
    assert indexes["idx_grants_external_sync_v1"] == ("v1_grants", 1, ("external_id", "sync_id"), None)
    with C1ZReader(loaded) as reader:
        assert len(list(reader.grants())) == 5


async def test_a_resumed_sync_storing_a_grant_again_keeps_its_first_row(tmp_path: Path) -> None:
    # An interrupted sync is saved with its indexes and resumed from that file: the resumed load drops the unique
    # index again, and a grant the first run stored is merged into that run's row (its id and time kept).
    path = tmp_path / "s.c1z"
    group = b.add_group_trait(b.resource(GROUP, "g1", "Group One"))
    store = await C1ZStore.create()
    try:
        sync_id = await store.start_sync()
        await store.write(None, resource_types=[USER, GROUP], resources=[group])
        await store.write("first", grants=[versioned_grant(group, "a", 1, None), versioned_grant(group, "b", 1, None)])
        await store.save(path)
    finally:
        await store.close()
    with decompressed_db(path) as db:
        conn = sqlite3.connect(db)
        first_id, first_time = conn.execute(
            "SELECT id, discovered_at FROM v1_grants WHERE external_id = 'group:g1:member:user:a'"
        ).fetchone()
        conn.close()
    store = await C1ZStore.open(path)
    try:
        assert await store.resume_sync(sync_id) == "first"
        await store.write("second", grants=[versioned_grant(group, "a", 2, "group:g2:member")])
        assert await store.count("v1_grants") == 2
        await store.end_sync("{}", supports_diff=True)
        await store.save(path)
    finally:
        await store.close()
    assert [(r[4], r[6], r[7], r[8]) for r in grant_rows(path)] == [
        ("a", ["group:g2:member"], 1, 2),
        ("b", None, 0, 1),
    ]
    with decompressed_db(path) as db:
        conn = sqlite3.connect(db)
        assert conn.execute(
            "SELECT id, discovered_at FROM v1_grants WHERE external_id = 'group:g1:member:user:a'"
        ).fetchone() == (first_id, first_time)
        conn.close()


def schema_of_c1z(
    path: Path,
) -> tuple[dict[tuple[str, str], tuple[str, int, str | None]], dict[str, tuple[object, ...]]]:
    with decompressed_db(path) as db:
        return schema_of(db)


def test_merging_repeated_grants_matches_sqlite_upserts_write_by_write() -> None:
    # The fold in `rows.merge_duplicate_grants` against SQLite running UPSERT_GRANT itself, on random histories:
    # a first row as a resumed file may hold it (any expansion, needs_expansion 0 or 1: an expanded grant), then
    # later writes of the same keys as `grant_row` makes them, interleaved with other keys.
    rng = random.Random(12)
    expansions = [None, b"", b"x", b"y"]
    for _ in range(200):
        upserted, loaded = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
        for statement in DDL:
            upserted.execute(statement)
            if "idx_grants_external_sync_v1" not in statement:
                loaded.execute(statement)
        for step in range(rng.randint(1, 12)):
            key, sync = rng.choice("abc"), rng.choice(["s1", "s2"])
            expansion = rng.choice(expansions)
            needs = rng.choice([0, 1]) if step < 3 else (1 if expansion else 0)
            values = ("t", "r", "e", "pt", "p", key, expansion, needs, f"data{step}".encode(), sync, f"time{step}")
            seen = upserted.execute(
                "SELECT 1 FROM v1_grants WHERE external_id = ? AND sync_id = ?", (key, sync)
            ).fetchone()
            upserted.execute(rows.INSERT_GRANT if seen is None else rows.UPSERT_GRANT, values)
            loaded.execute(rows.INSERT_GRANT, values)
        rows.merge_duplicate_grants(loaded)
        query = (
            "SELECT external_id, sync_id, expansion, needs_expansion, data, discovered_at FROM v1_grants ORDER BY id"
        )
        assert loaded.execute(query).fetchall() == upserted.execute(query).fetchall()
        upserted.close()
        loaded.close()


# Pages of one sync that store resources again (a listing repeating an item): u1 three times (twice within one
# page), g1 twice. Go's upsert keeps the first row (its id, parent and time) and takes the newest data.
RESOURCE_PAGES: list[list[tuple[str, str, str | None]]] = [  # (type, id, parent group)
    [("user", "u1", None), ("group", "g1", None), ("user", "u2", "g1")],
    [("user", "u1", None), ("user", "u3", None), ("user", "u1", "g1")],
    [("group", "g1", None), ("user", "u2", None)],
]
RESOURCES_SAVED = [  # (external id, parent type, parent id, display name = the write it came from), first stored first
    ("user:u1", None, None, "user u1 page 1 item 2"),
    ("group:g1", None, None, "group g1 page 2 item 0"),
    ("user:u2", "group", "g1", "user u2 page 2 item 1"),
    ("user:u3", None, None, "user u3 page 1 item 1"),
]


def versioned_resource(kind: str, object_id: str, parent: str | None, page: int, item: int) -> resource_pb2.Resource:
    rtype = USER if kind == "user" else GROUP
    return b.resource(
        rtype,
        object_id,
        f"{kind} {object_id} page {page} item {item}",
        parent=None if parent is None else b.resource_id("group", parent),
    )


def resource_rows(path: Path) -> list[tuple[object, ...]]:
    """The saved resources in id order: key, parent columns and the blob's display name."""
    with decompressed_db(path) as db:
        conn = sqlite3.connect(db)
        found = conn.execute(
            "SELECT external_id, parent_resource_type_id, parent_resource_id, data FROM v1_resources ORDER BY id"
        ).fetchall()
        conn.close()
    return [(*columns, resource_pb2.Resource.FromString(data).display_name) for *columns, data in found]


async def store_resource_repeats(path: Path, *, read_after_first_page: bool) -> list[str]:
    """The pages above in one sync; returns the display names `resources_after` lists for users after the last."""
    store = await C1ZStore.create()
    try:
        await store.start_sync()
        await store.write(None, resource_types=[USER, GROUP])
        for number, page in enumerate(RESOURCE_PAGES):
            resources = [versioned_resource(*item, number, i) for i, item in enumerate(page)]
            await store.write(None, resources=resources)
            if number == 0 and read_after_first_page:
                # A read during the load builds the index first: the later pages are upserts.
                assert await store.get_resource("user", "u1") is not None
        assert await store.count("v1_resources") == 4, "a resource stored twice counts once, before any read too"
        listed = [res.display_name for _, res in (await store.resources_after("user", 0, 10))[0]]
        stats = await store.end_sync("{}", supports_diff=True)
        assert stats["resources"] == 4
        await store.save(path)
        return listed
    finally:
        await store.close()


async def test_a_resource_stored_again_is_one_row_as_the_upsert_leaves_it(tmp_path: Path) -> None:
    # A new file loads its resources without the unique (external_id, sync_id) index until the first read of them:
    # the resources stored more than once must come out exactly as the upsert into an indexed table leaves them.
    loaded, upserted = tmp_path / "loaded.c1z", tmp_path / "upserted.c1z"
    listed = await store_resource_repeats(loaded, read_after_first_page=False)
    assert listed == ["user u1 page 1 item 2", "user u2 page 2 item 1", "user u3 page 1 item 1"], (
        "listed once each, at the first row, with the newest data"
    )
    assert await store_resource_repeats(upserted, read_after_first_page=True) == listed
    assert resource_rows(loaded) == RESOURCES_SAVED
    assert resource_rows(upserted) == RESOURCES_SAVED
    _, indexes = schema_of_c1z(loaded)
    assert indexes["idx_resources_parent_resource_id_v1"] == ("v1_resources", 1, ("external_id", "sync_id"), None)
    with C1ZReader(loaded) as reader:
        assert len(list(reader.resources())) == 4


async def test_reads_during_the_load_see_each_resource_once(tmp_path: Path) -> None:
    # Every read of the resources during a sync (the engine's cursor, a lookup, a resumed run's parents) must see a
    # resource stored twice as one, the newest.
    store = await C1ZStore.create(tmp_path)
    try:
        await store.start_sync()
        await store.write(None, resource_types=[USER], resources=[b.resource(USER, "u1", "old")])
        await store.write(None, resources=[b.resource(USER, "u1", "new"), b.resource(USER, "u2", "two")])
        got = await store.get_resource("user", "u1")
        assert got is not None
        assert got.display_name == "new"
        assert await store.stored_resources([("user", "u1"), ("user", "u9")]) == {("user", "u1")}
        batch, more = await store.resources_after("user", 0, 10)
        assert not more
        assert [res.display_name for _, res in batch] == ["new", "two"]
        await store.write(None, resources=[b.resource(USER, "u2", "newer")])  # after a read: an upsert
        assert [res.display_name for _, res in (await store.resources_after("user", batch[0][0], 10))[0]] == ["newer"]
        assert await store.count("v1_resources") == 2
    finally:
        await store.close()


async def test_a_resumed_sync_storing_a_resource_again_keeps_its_first_row(tmp_path: Path) -> None:
    path = tmp_path / "s.c1z"
    store = await C1ZStore.create()
    try:
        sync_id = await store.start_sync()
        await store.write("first", resource_types=[USER], resources=[b.resource(USER, "u1", "first run")])
        await store.save(path)
    finally:
        await store.close()
    store = await C1ZStore.open(path)
    try:
        assert await store.resume_sync(sync_id) == "first"
        await store.write("second", resources=[b.resource(USER, "u1", "resumed"), b.resource(USER, "u2", "new")])
        await store.end_sync("{}", supports_diff=True)
        await store.save(path)
    finally:
        await store.close()
    assert resource_rows(path) == [("user:u1", None, None, "resumed"), ("user:u2", None, None, "new")]


def test_merging_repeated_resources_matches_sqlite_upserts_write_by_write() -> None:
    # The fold in `rows.merge_duplicate_resources` against SQLite running UPSERT_RESOURCE itself, on random
    # histories of a few keys in two syncs, interleaved.
    rng = random.Random(13)
    for _ in range(200):
        upserted, loaded = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
        for statement in DDL:
            upserted.execute(statement)
            if "idx_resources_parent_resource_id_v1" not in statement:
                loaded.execute(statement)
        for step in range(rng.randint(1, 12)):
            key, sync = rng.choice(["t:a", "t:b", "u:a"]), rng.choice(["s1", "s2"])
            parent = rng.choice([(None, None), ("g", f"p{step}")])
            values = (key[0], key, *parent, f"data{step}".encode(), sync, f"time{step}")
            upserted.execute(rows.UPSERT_RESOURCE, values)
            loaded.execute(rows.INSERT_RESOURCE, values)
        rows.merge_duplicate_resources(loaded)
        # In id order; the ids themselves may differ (a merged repeat's id is not reused), as for grants.
        query = (
            "SELECT resource_type_id, external_id, parent_resource_type_id, parent_resource_id, data, sync_id, "
            "discovered_at FROM v1_resources ORDER BY id"
        )
        assert loaded.execute(query).fetchall() == upserted.execute(query).fetchall()
        upserted.close()
        loaded.close()
