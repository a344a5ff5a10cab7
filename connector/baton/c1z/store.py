"""The writable c1z store: an uncompressed SQLite working file that becomes a c1z on `save`.

The event loop never waits on disk or compression (issue 11 §6): the store owns one thread, which owns the
one SQLite connection (sqlite3's same-thread check enforces it), and every SQLite statement, VACUUM, zstd,
fsync and file operation runs there. `C1ZStore` is the async face the sync engine awaits; `_Db` is the part
that runs on the thread. Jobs run in submission order, so a page submitted before another is stored first.

A sync writes each page and the state that follows it in one unit (`write`), so a sync that stops for any reason
resumes exactly at the first page it had not stored. Pages are grouped into one SQLite transaction per
`COMMIT_INTERVAL` (a savepoint per page keeps each page all-or-nothing), the grant indexes (the unique one too) are
built once after the load (a new file's resource indexes before the first read of its resources), and the working
file is private and temporary: it is never resumed after a crash (resuming starts from the saved, fsynced c1z, and
opening one runs SQLite's `quick_check`), so per-commit fsyncs would only cost time, and while it loads its rollback
journal lives in memory (savepoints and rollbacks still work; only crash recovery, which nothing uses, is lost). The
state token that goes with the pages is stored once per group, with its commit. The working directory is locked for
the life of the store (`workfiles`), so a start-up sweep removes only dead processes' files. docs/benchmarks.md
("c1z store", "Store CPU and the end-of-sync tail") has the numbers behind each of these choices.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import itertools
import json
import operator
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import structlog
from google.protobuf.message import DecodeError

from connector.baton import ids
from connector.baton.c1z import rows, tally
from connector.baton.c1z.envelope import compress_atomically, decompress_to, open_regular
from connector.baton.c1z.errors import (
    STARTING_OVER,
    C1ZFormatError,
    DamagedC1ZError,
    check_stop,
    working_file_failure,
)
from connector.baton.c1z.schema import (
    DDL,
    DEFERRED_INDEXES,
    DEFERRED_RESOURCE_INDEXES,
    REQUIRED_COLUMNS,
    SYNC_RUN_COLUMNS_ADDED_LATER,
    check_readable,
    check_writable,
    connect_read_only,
    parse_sqlite_time,
    sqlite_time,
    stop_when,
    stored_columns,
)
from connector.baton.c1z.workfiles import WorkDir
from connector.baton.errors import InternalError
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import annotation_grant_pb2, entitlement_pb2, grant_pb2, resource_pb2
from connector.baton.printable import printable

log = structlog.get_logger(__name__)

# Go resumes an unfinished sync only while it is younger than this.
RESUME_MAX_AGE = timedelta(days=7)
# Group commit: pages written within this many seconds share one transaction.
COMMIT_INTERVAL = 0.5
# Pages queued for the store thread before `write` waits (bounds the memory of objects in flight).
MAX_PENDING_WRITES = 16
# `save` compacts (`VACUUM INTO`) working files whose live pages take up to this size. Measured on the fake
# Datadog's orgs with zstd's 32 MiB window: compaction makes the c1z 6-7% smaller at 10k-20k users (43-86 MB
# files, 0.07-0.15 s), nothing at 30k (128 MB) and 5% larger at 100k (427 MB, 0.7-0.8 s of the end-of-sync
# tail): past a few windows, the load's own page order compresses better than the compact one.
COMPACT_MAX_BYTES = 128 << 20
# ... and any file whose free pages are at least this share of it (an older sync deleted by `keep_only`):
# they would compress to almost nothing (SQLite zeroes freed pages here) but every reader would decompress them.
COMPACT_FREE_SHARE = 0.125
# The page size of a file this store creates: 4096, as c1z-format.md §2.9 recommends and Go's files have (§2.3).
# SQLite reads any size, and 16 KiB pages were measured cheaper (the 100k-user end-of-sync tail 1.63-1.67 s of store
# CPU against 1.88-1.93 s, the 10k org's c1z -2.9%, peak RSS +2-3 MB; docs/benchmarks.md, "Store thread: resource
# indexes at the first read"), but that is a few percent of a sync for a file unlike every one ConductorOne's tools
# were tested with: not taken.
PAGE_SIZE = 4096

# How many dropped dangling grants `drop_dangling_grants` names (the rest are counted).
_DANGLING_EXAMPLES = 5

P = ParamSpec("P")
R = TypeVar("R")


@dataclasses.dataclass(slots=True)
class DanglingGrants:
    """The grants `drop_dangling_grants` deleted: how many for each reason, and the first few named."""

    by_reason: dict[str, int] = dataclasses.field(default_factory=dict)
    examples: list[str] = dataclasses.field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(self.by_reason.values())


class _Db:
    """The working SQLite file. Lives on the store thread only: every method blocks."""

    def __init__(self, db_path: Path, source: Path | None) -> None:
        self.db_path = db_path
        # Named in error messages: the c1z the file came from, or the working file itself.
        self.source = source or db_path
        # A file this store created holds rows of the syncs it started and nothing else (see `_holds_only`).
        self._fresh = source is None
        self._started: set[str] = set()
        # isolation_level=None: transactions are explicit (group commit + a savepoint per page).
        self.conn = rows.guard_connection(sqlite3.connect(db_path, isolation_level=None), db_path)
        # Statements that may change a whole file (the schema step of a resumed file dropping its deferred
        # indexes, `keep_only` deleting an older sync) run with a journal file; the load, in between, with
        # one in memory (`start_load`).
        self.conn.execute("PRAGMA journal_mode=DELETE")
        self.conn.execute("PRAGMA synchronous=OFF")
        self._loading = False
        self._tx_started: float | None = None
        # The state token of the newest page in the open group, stored by the group's commit (one UPDATE
        # per group instead of one per page: tokens are ~11 KB at 100k users). Rolled back with its page.
        self._token: tuple[str, str] | None = None
        # The active sync's rows per table (`tally.TALLIED_TABLES`) as this store wrote them, and the tally that goes
        # with `_token` (`_store_token` records it in the stored token; `rows_changed` compares a resumed token's with
        # the rows it finds, and sets the resumed sync's).
        self._tally: tuple[str, dict[str, tally.Tally]] | None = None
        # Records left out for an object too large to read back (`rows.oversized`), counted for `sync finished`; the
        # resources' (type, id) and the entitlements' ids, whose dependants `drop_left_out_dependants` leaves out too.
        # Held for the run (a resumed run does not know the earlier run's: see docs/c1z.md).
        self.dropped_oversized = 0
        self._left_out_resources: set[tuple[str, str]] = set()
        self._left_out_entitlements: set[str] = set()
        self._token_tally: str | None = None
        self._resumed: str | None = None
        self._indexes_deferred = False
        # Only in a file this store created: a resumed one reads its resources at once (`stored_resources`).
        self._resource_indexes_deferred = False
        # The end-of-sync tail (issue 12 goal 2), logged by `save`: when the last page was stored, and how long
        # the deferred index build took.
        self._last_write_at: float | None = None
        self._last_write_cpu = 0.0  # this thread's CPU clock then: the tail's CPU is steadier than its wall
        self._index_seconds = 0.0
        # Set when a write failed: later writes would checkpoint past a page that is not stored, so none runs.
        self.broken: BaseException | None = None

    def _check_not_broken(self) -> None:
        if self.broken is not None:
            raise InternalError(f"an earlier page could not be stored ({self.broken}); the sync cannot go on")

    # -- transactions --------------------------------------------------------------------------------------

    def _begin(self) -> None:
        if self._tx_started is None:
            self.conn.execute("BEGIN IMMEDIATE")
            self._tx_started = time.monotonic()

    def commit(self) -> None:
        if self._tx_started is not None:
            self._store_token()
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                # The group could not be written (an I/O error, a file-size limit): it goes, with its tokens, so
                # the file stays at the last commit, whose pages and state agree. Left open, every later commit
                # (the partial save's too) failed with "no transaction is active", hiding the cause.
                if self.conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self.conn.execute("ROLLBACK")
                self._tx_started = None
                self._token = None
                raise
            self._tx_started = None

    def _store_token(self) -> None:
        if self._token is not None:
            sync_id, token = self._token
            if self._token_tally is not None and len(token) > 2 and token[0] == "{" and token[-1] == "}":
                # The rows the token's pages put in the file, committed with them: a resume finding others knows rows
                # were changed since (`rows_changed`). Go's token decoder ignores the key; a finished token never has it.
                token = f'{token[:-1]},"{tally.STORED_ROWS_KEY}":{self._token_tally}}}'
            self.conn.execute("UPDATE v1_sync_runs SET sync_token = ? WHERE sync_id = ?", (token, sync_id))
            self._token = None
            self._token_tally = None

    def _max_id(self, table: str) -> int:
        """The table's highest row id (the rightmost key of its b-tree: no scan). SQLite gives a new row the highest id
        plus one, so across an insert the difference is the rows it added."""
        return int(self.conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0])  # noqa: S608

    def _retally(self, table: str) -> None:
        """Tally the active sync's rows of `table` again from the file, after rows were deleted (a merge of repeated
        items, dropped dangling grants). The tally is of rows in id order, so a deletion is not subtracted: the table is
        read back (a pass over it; only when such rows were found: a listing that repeated an item, a dangling grant)."""
        if self._tally is not None:
            sync_id, tallies = self._tally
            tallies[table] = tally.of_file(self.conn, table, sync_id)

    def _retally_stored_token(self) -> None:
        """Record the tally again in the stored token, after `_retally`: the committed token tallied rows that are
        gone now (the copies of a repeated item, a dangling grant), and a resume would have found rows changed that
        were only merged or dropped. Rare, so the token is parsed."""
        if self._tally is None:
            return
        sync_id, tallies = self._tally
        row = self.conn.execute(
            "SELECT sync_token FROM v1_sync_runs WHERE sync_id = ? AND ended_at IS NULL", (sync_id,)
        ).fetchone()
        if row is None or tally.STORED_ROWS_KEY not in str(row[0]):
            return
        try:
            data = json.loads(row[0])
        except (ValueError, RecursionError):
            return  # not this store's token (a resumed file's own, not stored over yet): nothing of ours to correct
        if not isinstance(data, dict):
            return
        data[tally.STORED_ROWS_KEY] = tally.encoded(tallies)
        self.conn.execute(
            "UPDATE v1_sync_runs SET sync_token = ? WHERE sync_id = ?",
            (json.dumps(data, separators=(",", ":")), sync_id),
        )

    def start_load(self) -> None:
        """A journal in memory while the rows load: no journal file written and deleted per group (a 100k-user
        load: -15% of the store thread's CPU, +6-8 MB peak RSS). It holds only the pages a group changes that
        existed before it, so it stays small."""
        self.commit()
        self.conn.execute("PRAGMA journal_mode=MEMORY")
        self._loading = True

    def _end_load(self) -> None:
        """Back to a journal file for the end-of-sync statements, which may change most of a resumed file."""
        if self._loading:
            self.commit()
            self.conn.execute("PRAGMA journal_mode=DELETE")
            self._loading = False

    @contextlib.contextmanager
    def unit(self) -> Iterator[None]:
        """All-or-nothing inside the open group transaction; commits when the interval has passed."""
        self._begin()
        self.conn.execute("SAVEPOINT unit")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK TO unit")
                self.conn.execute("RELEASE unit")
            else:
                # SQLite rolled the whole group back itself (SQLITE_FULL, I/O errors): the file is at the last
                # commit, whose pages and checkpoint still agree.
                self._tx_started = None
                self._token = None
            raise
        self.conn.execute("RELEASE unit")
        if self._tx_started is not None and time.monotonic() - self._tx_started >= COMMIT_INTERVAL:
            self.commit()

    # -- schema --------------------------------------------------------------------------------------------

    def ensure_schema(self, *, defer_indexes: bool) -> None:
        """Bring the file to the current schema (Go's migrations: c1z-format.md §2.3); drop deferred indexes."""
        with self.unit():
            self._forget_statistics()
            for statement in DDL:
                if not _names_late_column(statement):
                    self.conn.execute(statement)
            have = rows.columns(self.conn, "v1_sync_runs")
            for name, decl in SYNC_RUN_COLUMNS_ADDED_LATER:
                if name not in have:
                    self.conn.execute(f"ALTER TABLE v1_sync_runs ADD COLUMN {name} {decl}")
            if "expansion" not in rows.columns(self.conn, "v1_grants"):
                # An older file: its grants still hold GrantExpandable inside the blob; the reader re-attaches
                # it from there, and we never write into such a sync (new syncs only).
                self.conn.execute("ALTER TABLE v1_grants ADD COLUMN expansion blob")
                self.conn.execute("ALTER TABLE v1_grants ADD COLUMN needs_expansion integer not null default 0")
            for statement in DDL:
                if _names_late_column(statement):
                    self.conn.execute(statement)
            if defer_indexes:
                for name in DEFERRED_INDEXES:
                    self.conn.execute(f"DROP INDEX IF EXISTS {name}")
                self._indexes_deferred = True
                if self._fresh:
                    for name in DEFERRED_RESOURCE_INDEXES:
                        self.conn.execute(f"DROP INDEX IF EXISTS {name}")
                    self._resource_indexes_deferred = True
        self.commit()

    def rebuild_indexes(self) -> None:
        """Rebuild an existing file's indexes from its tables (`REINDEX`), once, on opening, before any use: a resumed
        run, a new sync over the file (`keep_only`, `drop_other_partials`), its reads and upserts.

        `quick_check` (check_readable) reads every page but does not compare an index with its table, and a damaged
        index lacking a row passed it. Read through it, a resumed run found its stored role missing (`stored_resources`),
        dropped the role's grants as dangling and was saved as complete without them; a run found by `sync_runs` (a
        table scan) and not by its id (the unique index) was a KeyError, every run; and a new sync over a finished file
        ran whole, then `keep_only`'s DELETE met the missing entry ("database disk image is malformed"), and the sync
        started over in a new file: every connector call made twice, under a warning that nothing was resumed. A unique
        index that its table's rows no longer fit fails here: damage, the sync starts over in a new file at once.

        After `ensure_schema`, so the grants' deferred indexes are dropped, not rebuilt: what is rebuilt is the indexes
        kept during the load (a 100k-user file: docs/c1z.md, "Resuming")."""
        with self.unit():
            self.conn.execute("REINDEX")
        self.commit()

    def _forget_statistics(self) -> None:
        """Drop the file's query planner statistics (ANALYZE's `sqlite_stat*` tables; Go's `PRAGMA optimize` may write
        them). They are the file's word on its tables' shape, and SQLite plans by them: made up, they turned the
        lookup of a resumed run's stored parents into a scan of every row of `v1_resources`, page after page, and
        the saved file carried them on. Without them SQLite plans by the schema, as for every file this store makes.
        """
        names = [
            str(row[0])
            for row in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sqlite^_stat%' ESCAPE '^'"
            )
        ]
        for name in names:
            self.conn.execute(f'DELETE FROM "{name}"')  # noqa: S608 - a sqlite_stat table's name
        if names:
            self.conn.execute("ANALYZE sqlite_master")  # the planner reloads the statistics: now none
        for name in names:
            self.conn.execute(f'DROP TABLE "{name}"')

    def build_deferred_indexes(self) -> None:
        if not (self._indexes_deferred or self._resource_indexes_deferred):
            return
        started = time.monotonic()
        self.commit()
        self._build_resource_indexes()
        if self._indexes_deferred:
            self._create_indexes(DEFERRED_INDEXES, rows.merge_duplicate_grants, "v1_grants")
        self.commit()
        self._indexes_deferred = False
        self._index_seconds = time.monotonic() - started

    def _build_resource_indexes(self) -> None:
        """Build the resources' indexes if they are still deferred (schema.DEFERRED_RESOURCE_INDEXES): before any read of
        `v1_resources` during the sync, and with the other deferred indexes. From then on resources are upserted."""
        if self._resource_indexes_deferred:
            # Committed on their own, before the flag says built: left in the open group, a group that failed to
            # commit later (a full disk, a file-size limit) took the merge and the indexes with it while the flag
            # stayed cleared, and a resource stored twice was listed twice and saved twice in the partial c1z.
            self.commit()
            self._create_indexes(DEFERRED_RESOURCE_INDEXES, rows.merge_duplicate_resources, "v1_resources")
            self.commit()
            self._resource_indexes_deferred = False

    def _create_indexes(self, names: Sequence[str], merge: Callable[[sqlite3.Connection], int], table: str) -> None:
        """Create the deferred indexes `names` (of `table`), in the schema's order."""
        with self.unit():
            for statement in DDL:
                if any(f" {name} " in statement for name in names):
                    try:
                        self.conn.execute(statement)
                    except sqlite3.IntegrityError:
                        # The unique index, over an object stored more than once during the load (a listing that
                        # repeats an item): merged as the upsert would have, then built. Nothing is built twice
                        # when there are none, the usual case.
                        if merge(self.conn):
                            self._retally(table)
                        self.conn.execute(statement)
                        self._retally_stored_token()

    # -- sync runs -----------------------------------------------------------------------------------------

    def sync_runs(self) -> list[rows.SyncRun]:
        runs = rows.read_sync_runs(self.conn)
        if self._token is None:
            return runs
        # The open group's token is not stored yet: show it (a read must not write, e.g. after a failure).
        sync_id, token = self._token
        return [dataclasses.replace(r, sync_token=token) if r.sync_id == sync_id else r for r in runs]

    def start_sync(self, sync_id: str, sync_type: str, parent_sync_id: str) -> None:
        self._started.add(sync_id)
        with self.unit():
            self.conn.execute(
                "INSERT INTO v1_sync_runs (sync_id, started_at, sync_token, sync_type, parent_sync_id, "
                "linked_sync_id, grants_backfilled) VALUES (?, ?, '', ?, ?, '', 1)",
                (sync_id, sqlite_time(), sync_type, parent_sync_id),
            )
        self._tally = (sync_id, dict.fromkeys(tally.TALLIED_TABLES, tally.Tally()))

    def resume_sync(self, sync_id: str) -> str:
        """The unfinished sync's token. Its rows are tallied by `rows_changed`, once the token is read and only if it
        records a tally to compare with: a token that starts over anyway pays no pass over the tables."""
        # The file's indexes were rebuilt from its tables on opening (`rebuild_indexes`): the run is read through them.
        token = self.sync_token(sync_id)
        self._resumed = sync_id
        return token

    def rows_changed(self, sync_id: str, record: object) -> str | None:
        """How the resumed sync's rows differ from what its token records its pages stored (`record`, the token's
        `tally.STORED_ROWS_KEY`), described; None when they are the ones it stored.

        The token claims the pages its run stored: a run resumed over a file whose rows were changed since (a tool, a
        hand-edit, a salvage) never lists those pages again, and was saved as complete with the file's rows in place of
        its own. A token that records no tally (Go's, or an older version's) cannot be checked: it is not resumed either
        (a new sync holds what an uninterrupted one would; docs/c1z.md, "Resuming")."""
        claimed = tally.recorded(record)
        if claimed is None:
            return (
                "its state records no tally of the rows it stored (another version or SDK wrote it), so the pages it "
                "claims cannot be checked"
            )
        if self._resumed != sync_id:
            raise InternalError("rows_changed is asked of a sync that was not resumed")
        # A pass over each table, once per resume; the run goes on tallying from what it found.
        found = {table: tally.of_file(self.conn, table, sync_id) for table in tally.TALLIED_TABLES}
        self._tally = (sync_id, dict(found))
        for table in tally.TALLIED_TABLES:
            problem = tally.difference(table, found[table], claimed[table])
            if problem is not None:
                return problem
        return None

    def sync_token(self, sync_id: str) -> str:
        row = self.conn.execute(
            "SELECT sync_token, ended_at FROM v1_sync_runs WHERE sync_id = ?", (sync_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no sync run {sync_id}")
        if row[1] is not None:
            raise ValueError(f"sync run {sync_id} is already finished")
        if self._token is not None and self._token[0] == sync_id:
            return self._token[1]
        return str(row[0])

    def write(
        self,
        sync_id: str,
        token: str | None,
        resource_types: Sequence[resource_pb2.ResourceType],
        resources: Sequence[resource_pb2.Resource],
        entitlements: Sequence[entitlement_pb2.Entitlement],
        grants: Sequence[grant_pb2.Grant],
    ) -> None:
        self._check_not_broken()
        now = sqlite_time()
        previous = self._token, self._token_tally
        tallies = self._tally[1] if self._tally is not None and self._tally[0] == sync_id else None
        counted = dict(tallies) if tallies is not None else None
        try:
            with self.unit():
                if resource_types:
                    self._insert(
                        tallies,
                        "v1_resource_types",
                        rows.UPSERT_RESOURCE_TYPE,
                        self._storable(
                            "v1_resource_types", [rows.resource_type_row(x, sync_id, now) for x in resource_types]
                        ),
                    )
                if resources:
                    # While the unique index is deferred, a plain INSERT; `_build_resource_indexes` merges repeats.
                    insert = rows.INSERT_RESOURCE if self._resource_indexes_deferred else rows.UPSERT_RESOURCE
                    self._insert(
                        tallies,
                        "v1_resources",
                        insert,
                        self._storable(
                            "v1_resources",
                            [rows.resource_row(x, sync_id, now) for x in resources],
                            lambda at: self._left_out_resources.add(
                                (resources[at].id.resource_type, resources[at].id.resource)
                            ),
                        ),
                    )
                if entitlements:
                    self._insert(
                        tallies,
                        "v1_entitlements",
                        rows.UPSERT_ENTITLEMENT,
                        self._storable(
                            "v1_entitlements",
                            [rows.entitlement_row(x, sync_id, now) for x in entitlements],
                            lambda at: self._left_out_entitlements.add(entitlements[at].id),
                        ),
                    )
                if grants:
                    # While the unique index is deferred, a plain INSERT; `build_deferred_indexes` merges repeats.
                    insert = rows.INSERT_GRANT if self._indexes_deferred else rows.UPSERT_GRANT
                    self._insert(
                        tallies,
                        "v1_grants",
                        insert,
                        self._storable("v1_grants", [rows.grant_row(x, sync_id, now) for x in grants]),
                    )
                if token is not None:
                    self._token = (sync_id, token)  # stored with the group's commit
                    self._token_tally = (
                        None if tallies is None else json.dumps(tally.encoded(tallies), separators=(",", ":"))
                    )
        except BaseException as exc:
            # This page's rows are rolled back: so is its token (or the whole group's, if SQLite dropped it).
            self._token, self._token_tally = previous if self._tx_started is not None else (None, None)
            if tallies is not None and counted is not None:
                tallies.update(counted)
            self.broken = exc
            raise
        self._last_write_at = time.monotonic()
        self._last_write_cpu = time.thread_time()

    def _storable(
        self, table: str, values: list[tuple[Any, ...]], left_out: Callable[[int], None] | None = None
    ) -> list[tuple[Any, ...]]:
        """`values` without the rows whose object is too large to read back (`rows.oversized`), each named in a warning,
        counted, and given to `left_out` (its position): what depends on it is left out at the sync's end
        (`drop_left_out_dependants`). Left out, as a record without an identity is (docs/c1z.md): one peer's absurd
        value (a Datadog name of megabytes) must not fail every sync, nor make a file that does not read back."""
        found = rows.oversized(table, values)
        if not found:
            return values
        if left_out is not None:
            for at in found:
                left_out(at)
        key_at = rows.key_column(table)
        for at in found:
            log.warning(
                "record too large for a c1z object left out",
                table=table,
                key=values[at][key_at],
                limit_bytes=rows.MAX_OBJECT_BYTES,
            )
        self.dropped_oversized += len(found)
        gone = set(found)
        return [value for i, value in enumerate(values) if i not in gone]

    def _insert(
        self, tallies: dict[str, tally.Tally] | None, table: str, statement: str, values: list[tuple[Any, ...]]
    ) -> None:
        """Run `statement` over `values` into `table`, tallying the rows it adds or updates into `tallies`."""
        if not values:  # every row of the page left out (`_storable`)
            return
        if tallies is None:
            self.conn.executemany(statement, values)
            return
        before = self._max_id(table)
        self.conn.execute("SAVEPOINT tally")
        self.conn.executemany(statement, values)
        added = self._max_id(table) - before
        if added == len(values):  # every value a new row, with the ids after `before` in order: the usual case
            self.conn.execute("RELEASE tally")
            columns, data, *extra = rows.TALLIED_COLUMNS[table]
            picked = map(operator.itemgetter(*columns), values)
            tallies[table] = tallies[table].appended(
                before + 1,
                list(itertools.chain.from_iterable(picked)) if len(columns) > 1 else list(picked),
                [value[data] for value in values],
                [value[extra[0]] for value in values] if extra else (),
            )
            return
        # The upsert updated rows of the sync in place (a repeated item, a resumed listing read again): they keep their
        # ids and keys, but their values may be others. The page is undone and run again with those rows' values read
        # before and after, so the tally takes their old values out and puts the new ones in; only such pages pay.
        self.conn.execute("ROLLBACK TO tally")
        found = f"id, data{', expansion' if table in tally.EXTRA_COLUMN else ''}"
        key = rows.TALLIED_COLUMNS[table][0][0]
        sync_id = values[0][-2]  # each row's last two values: its sync id and time
        by_key = f"SELECT {found} FROM {table} WHERE external_id = ? AND sync_id = ?"  # noqa: S608 - our names
        updated = sorted({row for value in values for row in self.conn.execute(by_key, (value[key], sync_id))})
        self.conn.executemany(statement, values)
        self.conn.execute("RELEASE tally")
        by_id = f"SELECT {found} FROM {table} WHERE id = ?"  # noqa: S608 - our names
        now = [row for (row_id, *_) in updated for row in self.conn.execute(by_id, (row_id,))]
        new = self.conn.execute(
            f"SELECT {tally.selected(table)} FROM {table} WHERE id > ? ORDER BY id",  # noqa: S608 - our names
            (before,),
        ).fetchall()
        tallies[table] = tallies[table].revalued(updated, now).extended(table, new)

    def end_sync(self, sync_id: str, token: str, supports_diff: bool) -> dict[str, Any]:
        self._check_not_broken()
        self._end_load()
        self.build_deferred_indexes()
        stats = self.compute_stats(sync_id)
        with self.unit():
            self.conn.execute(
                "UPDATE v1_sync_runs SET sync_token = ?, supports_diff = ?, ended_at = ?, stats = ? "
                "WHERE sync_id = ? AND ended_at IS NULL",
                (token, 1 if supports_diff else 0, sqlite_time(), json.dumps(stats, separators=(",", ":")), sync_id),
            )
        self.commit()
        return stats

    def drop_dangling_grants(self, sync_id: str) -> DanglingGrants:
        """Delete the sync's grants on a resource the sync did not store; return what was dropped.

        Such a grant claims access on an object ConductorOne cannot show: a role created or deleted between the roles
        listing and the users walk, which side-loads role grants. Go's syncer lists grants per stored resource
        (docs/spec/c1z-format.md §5.2, `list-grants`), so its grants are all on stored resources, and in a partial sync
        it fetches a missing entitlement resource with `GetResource`. Kept: a grant whose resource is stored but whose
        entitlement is not (a type or resource marked `SkipEntitlements` still lists its grants, §5.2), and a grant to
        a principal the file does not hold (the Go connector takes it straight from the membership with no user
        lookup, reference-connector.md §3.1, and ConductorOne creates a principal it first sees in a grant:
        `CREATION_SOURCE_CONNECTOR_LIST_GRANTS_PRINCIPAL_JIT`, c1z-format.md appendix A).

        Run once per sync, after the deferred indexes are built. Each resource is checked once, not once per grant:
        the grants' distinct resources are read from a covering index."""
        self._check_not_broken()
        self._end_load()
        self.build_deferred_indexes()
        conn = self.conn
        # The resources' index holds every sync's grants (one, in a file this store created): a resource named only by
        # another sync's grants deletes nothing of this one.
        resources = [
            (str(t), str(r))
            for t, r in conn.execute("SELECT resource_type_id, resource_id FROM v1_grants GROUP BY 1, 2")
        ]
        stored = self.stored_resources(sync_id, resources)
        doomed = [key for key in resources if key not in stored]
        dropped = DanglingGrants()
        if not doomed:
            return dropped
        reason = "resource not stored"
        where = "sync_id = ? AND resource_type_id = ? AND resource_id = ?"
        with self.unit():
            for key in doomed:
                if len(dropped.examples) < _DANGLING_EXAMPLES:
                    dropped.examples.extend(
                        f"{printable(str(external_id)[:200])} ({reason})"
                        for (external_id,) in conn.execute(
                            f"SELECT external_id FROM v1_grants WHERE {where} ORDER BY id LIMIT ?",  # noqa: S608
                            (sync_id, *key, _DANGLING_EXAMPLES - len(dropped.examples)),
                        )
                    )
                gone = conn.execute(f"DELETE FROM v1_grants WHERE {where}", (sync_id, *key)).rowcount  # noqa: S608
                if gone:
                    dropped.by_reason[reason] = dropped.by_reason.get(reason, 0) + gone
            if dropped.count:
                self._retally("v1_grants")
            # Recorded in the stored token with the deletion: a stop before the sync's end then resumed over a file
            # whose token still counted the dropped grants, and started over for "rows missing".
            self._retally_stored_token()
        self.commit()
        return dropped

    def drop_left_out_dependants(self, sync_id: str) -> int:
        """Delete the sync's records that depend on one it left out for its size (`_storable`): a resource's
        entitlements and the grants on it (on its entitlements), and the grants on a left-out entitlement; one
        warning per left-out record naming how many went with it. Returns how many were deleted.

        Stored, they named an object the file does not hold: grants on an entitlement or a role not in the file,
        and, dropped as dangling, they were said to be a race between two listings. A record left out and then
        stored after all (listed again, smaller) keeps its dependants. Children of a left-out resource are not
        listed at all (the engine checks a parent's size first, `rows.fits`). Nothing to do, and no query, when
        nothing was left out: the usual sync."""
        if not self._left_out_resources and not self._left_out_entitlements:
            return 0
        self._check_not_broken()
        self._end_load()
        self.build_deferred_indexes()
        conn = self.conn
        keys = sorted(self._left_out_resources)
        resources = [key for key in keys if key not in self.stored_resources(sync_id, keys)]
        entitlements = [
            eid
            for eid in sorted(self._left_out_entitlements)
            if conn.execute(
                "SELECT 1 FROM v1_entitlements WHERE external_id = ? AND sync_id = ?", (eid, sync_id)
            ).fetchone()
            is None
        ]
        deleted: dict[str, int] = {"v1_entitlements": 0, "v1_grants": 0}
        on_resource = "sync_id = ? AND resource_type_id = ? AND resource_id = ?"
        with self.unit():
            for key in resources:
                went = {
                    "entitlements": conn.execute(
                        f"DELETE FROM v1_entitlements WHERE {on_resource}",  # noqa: S608
                        (sync_id, *key),
                    ).rowcount,
                    "grants": conn.execute(f"DELETE FROM v1_grants WHERE {on_resource}", (sync_id, *key)).rowcount,  # noqa: S608
                }
                self._left_out_dependants("v1_resources", ids.resource_key(*key), went, deleted)
            for eid in entitlements:
                went = {
                    "grants": conn.execute(
                        "DELETE FROM v1_grants WHERE sync_id = ? AND entitlement_id = ?", (sync_id, eid)
                    ).rowcount
                }
                self._left_out_dependants("v1_entitlements", eid, went, deleted)
            for table, count in deleted.items():
                if count:
                    self._retally(table)
            self._retally_stored_token()
        self.commit()
        self._left_out_resources.clear()
        self._left_out_entitlements.clear()
        return sum(deleted.values())

    @staticmethod
    def _left_out_dependants(table: str, key: str, went: dict[str, int], deleted: dict[str, int]) -> None:
        if not any(went.values()):
            return
        log.warning(
            "records that depend on a record too large for a c1z object left out with it",
            table=table,
            key=printable(key[:200]),
            limit_bytes=rows.MAX_OBJECT_BYTES,
            **went,
        )
        for kind, count in went.items():
            deleted[f"v1_{kind}"] += count

    def _holds_only(self, sync_id: str) -> bool:
        """True when every row in the file belongs to `sync_id`: a file this store created for that one sync.

        Such a file needs no `sync_id` filter, which lets the end-of-sync queries use covering indexes instead
        of scanning the tables (a 100k-user sync: stats 0.2 s → 0.02 s, `keep_only` 0.1 s → 0).
        """
        return self._fresh and self._started <= {sync_id}

    def keep_only(self, sync_id: str) -> None:
        self._check_not_broken()
        self._end_load()
        with self.unit():
            tables = ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_assets")
            # IS NOT: a row whose sync id is NULL (a file's table need not say NOT NULL) is no row of this sync either.
            for table in () if self._holds_only(sync_id) else tables:
                self.conn.execute(f"DELETE FROM {table} WHERE sync_id IS NOT ?", (sync_id,))  # noqa: S608
            self.conn.execute("DELETE FROM v1_connector_sessions")
            self.conn.execute("DELETE FROM v1_sync_runs WHERE sync_id IS NOT ?", (sync_id,))
        self.commit()

    def drop_other_partials(self, keep: str, unfinished_only: bool) -> None:
        older = "SELECT sync_id FROM v1_sync_runs WHERE sync_type = 'partial' AND sync_id != ?"
        if unfinished_only:
            older += " AND ended_at IS NULL"
        self._drop_runs(older, keep)

    def drop_unfinished_full(self, keep: str) -> None:
        """Delete every unfinished full sync run but `keep` ('' for none), and its rows. Asked as a run starts: the rows
        load with the journal in memory again after it (`start_load`)."""
        loading = self._loading
        self._drop_runs(
            "SELECT sync_id FROM v1_sync_runs WHERE sync_type = 'full' AND ended_at IS NULL AND sync_id != ?", keep
        )
        if loading:
            self.start_load()

    def _drop_runs(self, older: str, keep: str) -> None:
        """Delete the runs `older` selects (its one parameter is `keep`) and their rows."""
        self._check_not_broken()
        self._end_load()
        with self.unit():
            # And rows of no run (a NULL sync id, one no run has: a damaged file's), which no reader ever shows and every
            # save carried on.
            runs = "SELECT sync_id FROM v1_sync_runs WHERE sync_id IS NOT NULL"
            for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants", "v1_assets"):
                self.conn.execute(
                    f"DELETE FROM {table} WHERE sync_id IN ({older}) OR sync_id IS NULL OR sync_id NOT IN ({runs})",  # noqa: S608
                    (keep,),
                )
            self.conn.execute(f"DELETE FROM v1_sync_runs WHERE sync_id IN ({older})", (keep,))  # noqa: S608
        self.commit()

    def compute_stats(self, sync_id: str) -> dict[str, Any]:
        """`c1.reader.v2.SyncStats` as Go's encoding/json writes it: snake_case, zero values omitted."""
        by_type: dict[str, dict[str, int]] = {}
        only = self._holds_only(sync_id)
        for key, table in (
            ("resources_by_resource_type", "v1_resources"),
            ("entitlements_by_resource_type", "v1_entitlements"),
            ("grants_by_resource_type", "v1_grants"),
        ):
            where = "" if only else "WHERE sync_id = ?"
            by_type[key] = dict(
                self.conn.execute(
                    f"SELECT resource_type_id, count(*) FROM {table} {where} "  # noqa: S608
                    "GROUP BY resource_type_id ORDER BY resource_type_id",
                    () if only else (sync_id,),
                ).fetchall()
            )
        type_ids = [
            row[0]
            for row in self.conn.execute(
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

    # -- reads the sync engine needs -----------------------------------------------------------------------

    def resource_types(self, sync_id: str) -> list[resource_pb2.ResourceType]:
        """The sync's stored types, each the one its row is keyed by (as `_stored_resource` checks resources): a resumed
        run goes on with them, and one keyed `junk` holding `group` was saved as complete under the wrong key (Go's
        lookup by id missed the type, and the stats counted a type `junk`)."""
        try:
            rows.check_resource_types_size(self.conn, sync_id)  # held all at once, by the engine
        except ValueError as exc:
            raise DamagedC1ZError(f"{self.source}: {exc}") from exc
        found = []
        for row_id, key, data in self.conn.execute(
            f"SELECT id, external_id, {rows.object_column('data')} FROM v1_resource_types "  # noqa: S608 - our SQL
            "WHERE sync_id = ? ORDER BY id",
            (sync_id,),
        ):
            try:
                rtype = resource_pb2.ResourceType.FromString(rows.object_bytes(data, "v1_resource_types", row_id))
            except ValueError as exc:  # a row that is no object (rows.object_bytes)
                raise DamagedC1ZError(f"{self.source}: {exc}") from exc
            if not rtype.id or rtype.id != key:
                raise DamagedC1ZError(
                    f"{self.source}: v1_resource_types row {row_id} holds another resource type than its key names"
                )
            found.append(rtype)
        return found

    def resources_after(
        self, sync_id: str, resource_type_id: str, after_row_id: int, limit: int
    ) -> tuple[list[tuple[int, resource_pb2.Resource]], bool]:
        """Up to `limit` stored resources of a type after row `after_row_id`, in row order, and whether more may follow.

        Bounded in bytes too (`rows.RESOURCE_BATCH_BYTES` of objects and keys, at least one row), measured in SQL before
        any is read, as `rows.iter_blobs` does: the engine holds a batch decoded, and a file's rows are untrusted. Bounded
        per object only (`rows.MAX_OBJECT_BYTES`), 200 resources of empty annotations, from a 17 KB c1z, took a resumed
        sync 1.7-2.7 GB. Real resources take hundreds of bytes: a batch of them is `limit` rows, one query more."""
        self._build_resource_indexes()  # a resource stored twice is listed once, at its first row
        where = "WHERE sync_id = ? AND resource_type_id = ? AND id > ?"
        params = (sync_id, resource_type_id, after_row_id)
        sizes = (
            "SELECT id, coalesce(length(data), 0) + coalesce(length(CAST(external_id AS BLOB)), 0) AS size "  # noqa: S608
            f"FROM v1_resources {where} ORDER BY id LIMIT ?"
        )
        end, size, count = self.conn.execute(
            f"SELECT max(id), total(size), count(*) FROM ({sizes})",  # noqa: S608 - our SQL
            (*params, limit),
        ).fetchone()
        if end is None:
            return [], False
        more = count == limit
        if size > rows.RESOURCE_BATCH_BYTES:
            end = rows.batch_end(self.conn.execute(sizes, (*params, limit)), rows.RESOURCE_BATCH_BYTES)
            more = True
        found = self.conn.execute(
            f"SELECT id, external_id, {rows.object_column('data')} FROM v1_resources "  # noqa: S608 - our SQL
            f"{where} AND id <= ? ORDER BY id",
            (*params, end),
        ).fetchall()
        return [(row[0], self._stored_resource(row[0], resource_type_id, row[1], row[2])) for row in found], more

    def get_resource(self, sync_id: str, resource_type_id: str, resource_id: str) -> resource_pb2.Resource | None:
        self._build_resource_indexes()
        key = ids.resource_key(resource_type_id, resource_id)
        row = self.conn.execute(
            f"SELECT id, {rows.object_column('data')} FROM v1_resources "  # noqa: S608 - our SQL
            "WHERE sync_id = ? AND resource_type_id = ? AND external_id = ?",
            (sync_id, resource_type_id, key),
        ).fetchone()
        return None if row is None else self._stored_resource(row[0], resource_type_id, key, row[1])

    def _stored_resource(self, row_id: int, type_id: str, key: object, data: object) -> resource_pb2.Resource:
        """A resource read back, which must be the one its row is keyed by. Any bytes are valid protobuf of some
        Resource (an empty blob is one without an id, another message's blob may parse as one): a resumed file's
        row holding another resource, or none, had its grants listed for an empty id, a connector's ValueError
        ending the sync ("unexpected error") instead of a new one starting."""
        try:
            resource = resource_pb2.Resource.FromString(rows.object_bytes(data, "v1_resources", row_id))
        except ValueError as exc:
            raise DamagedC1ZError(f"{self.source}: {exc}") from exc
        rid = resource.id
        if not rid.resource or rid.resource_type != type_id or ids.resource_key(type_id, rid.resource) != key:
            raise DamagedC1ZError(f"{self.source}: v1_resources row {row_id} holds another resource than its key names")
        return resource

    def stored_resources(self, sync_id: str, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (type, id) resources this sync has stored."""
        self._build_resource_indexes()
        found: set[tuple[str, str]] = set()
        for start in range(0, len(keys), rows.BATCH_ROWS):
            chunk = keys[start : start + rows.BATCH_ROWS]
            marks = ",".join("?" * len(chunk))
            query = (
                "SELECT resource_type_id, external_id FROM v1_resources "  # noqa: S608 - only placeholders joined
                f"WHERE sync_id = ? AND external_id IN ({marks})"
            )
            for type_id, external_id in self.conn.execute(query, (sync_id, *(ids.resource_key(*k) for k in chunk))):
                # By its type column too: the ':' join is lossy ("a:b" + "c" and "a" + "b:c" share an external id).
                found.add((type_id, external_id[len(type_id) + 1 :]))
        return found & set(keys)

    def stray_row(self, sync_id: str, type_ids: Sequence[str], empty: Sequence[str]) -> str | None:
        """A row of the sync that names a resource type outside `type_ids`, or any row of a table in `empty`, described;
        None when there is none. One pass over each table (the column is not the leading one of any index that also
        holds the sync id), run once when a sync is resumed, never per page."""
        marks = ",".join("?" * len(type_ids))
        for table, column in (
            ("v1_resource_types", "external_id"),
            ("v1_resources", "resource_type_id"),
            ("v1_entitlements", "resource_type_id"),
            ("v1_grants", "resource_type_id"),
        ):
            outside = "" if table in empty else f" AND {column} NOT IN ({marks})"
            query = f"SELECT {column} FROM {table} WHERE sync_id = ?{outside} LIMIT 1"  # noqa: S608 - our SQL
            row = self.conn.execute(query, (sync_id, *(() if table in empty else type_ids))).fetchone()
            if row is not None:
                what = "rows" if table in empty else f"rows of resource type {str(row[0])[:64]!r}"
                return f"{table} holds {what}, which this sync does not make"
        mistyped = self._mistyped_row(sync_id)
        if mistyped is None:
            self._check_objects(sync_id)
        return mistyped

    def _mistyped_row(self, sync_id: str) -> str | None:
        """A row of the sync whose key or object is of the wrong type (NULL, a blob for an id, text for an object), or a
        row that belongs to no sync by its sync id's type, described; None when there is none. A file's table need not
        say NOT NULL (the reader needs its columns, not their constraints): such a row of a resumed run was never read
        again (its type, its id or its sync matched nothing), and the run was saved as complete without it and without
        what hung on it (a group's grants), or with its NULL object, which the saved file's own reader refused. One pass
        over each table, once per resume, as `stray_row`'s."""
        for table, needed in REQUIRED_COLUMNS.items():
            if table == "v1_sync_runs":
                continue
            texts = sorted(needed - {"id", "data", "sync_id"})
            wrong = " OR ".join([*(f"typeof({column}) != 'text'" for column in texts), "typeof(data) != 'blob'"])
            query = f"SELECT id FROM {table} WHERE typeof(sync_id) != 'text' OR (sync_id = ? AND ({wrong})) LIMIT 1"  # noqa: S608 - our SQL
            row = self.conn.execute(query, (sync_id,)).fetchone()
            if row is not None:
                return f"{table} row {row[0]} holds an id, sync id or object of the wrong type"
        return None

    def _check_objects(self, sync_id: str) -> None:
        """Raise `DamagedC1ZError` for a row of the sync whose object is another one than the row's key names, or a
        DecodeError (`_guarded`: damage too) for one that does not decode as its table's message: a sync that resumes
        over such rows starts over in a new file, as for a resource read back. A resumed run reads back only the
        resources its pending listings need: its stored entitlements and grants (and the other resources) were saved
        into the finished file as they were, which its own reader then refused ("cannot read v1_grants": `inspect`, the
        upload), or with a user listed twice and another not at all. One pass over each table, decoding every object,
        once per resume."""
        for table, noun, keys, names_its_key in _ROW_OBJECTS:
            extra = "expansion" if table == "v1_grants" and "expansion" in rows.columns(self.conn, table) else ""
            found = rows.iter_blobs(self.conn, table, sync_id, extra_column=extra, plain_columns=keys)
            while True:
                try:
                    row = next(found, None)
                except ValueError as exc:  # a row that is no object, or one over the size bound (rows.object_bytes)
                    raise DamagedC1ZError(f"{self.source}: {exc}") from exc
                if row is None:
                    break
                if extra and row[2] is not None:
                    annotation_grant_pb2.GrantExpandable.FromString(row[2])
                if not names_its_key(row[1], row[len(row) - len(keys) :]):
                    raise DamagedC1ZError(
                        f"{self.source}: {table} row {row[0]} holds another {noun} than its key names"
                    )

    def count(self, sync_id: str, table: str) -> int:
        # While a unique index is deferred an object stored twice is two rows until the merge: count it once.
        deferred = {"v1_grants": self._indexes_deferred, "v1_resources": self._resource_indexes_deferred}
        what = "DISTINCT external_id" if deferred.get(table) else "*"
        query = f"SELECT count({what}) FROM {table} WHERE sync_id = ?"  # noqa: S608 - table names are ours
        return int(self.conn.execute(query, (sync_id,)).fetchone()[0])

    # -- saving --------------------------------------------------------------------------------------------

    def save(self, c1z_path: Path, vacuum: bool) -> int:
        """Compress into `c1z_path` atomically; `vacuum` compacts a copy first (`VACUUM INTO`) where that pays.

        Compacting writes each b-tree's pages together and in key order, without free pages. Up to
        `COMPACT_MAX_BYTES` of live pages that makes the c1z smaller for little time; past it the c1z grows
        instead and the tail would pay for nothing, unless `COMPACT_FREE_SHARE` of the file is free pages
        (an older sync that `keep_only` deleted), which readers would otherwise decompress.
        `VACUUM INTO` writes the compact copy once, with no journal of the original, and leaves the working
        file as it is (a saved partial sync goes on being written).
        """
        self._end_load()
        self.build_deferred_indexes()
        self.commit()
        started = time.monotonic()
        vacuum = vacuum and self._compaction_pays()
        if not vacuum:
            size = compress_atomically(self.db_path, c1z_path)
            compressed = started
        else:
            compact = self.db_path.with_name("compact.db")
            compact.unlink(missing_ok=True)
            try:
                # The name as the bytes it is, cast to text (SQLite takes a file name as text, and does not check
                # that its bytes are UTF-8): passed as a str, a temp dir's name that is not UTF-8 raised
                # UnicodeEncodeError once the whole sync was done, "unexpected error", exit 1.
                self.conn.execute("VACUUM INTO CAST(? AS TEXT)", (os.fsencode(compact),))
                compressed = time.monotonic()
                size = compress_atomically(compact, c1z_path)
            finally:
                compact.unlink(missing_ok=True)
        ready = time.monotonic()
        log.info(
            "c1z saved",
            bytes=size,
            compacted=vacuum,
            # From the end of the last stored page to the file being ready: index build, stats, compaction,
            # compression and fsync (docs/benchmarks.md, "Store CPU and the end-of-sync tail").
            tail_seconds=None if self._last_write_at is None else round(ready - self._last_write_at, 3),
            tail_cpu_seconds=None
            if self._last_write_at is None
            else round(time.thread_time() - self._last_write_cpu, 3),
            index_seconds=round(self._index_seconds, 3),
            compact_seconds=round(compressed - started, 3),
            compress_seconds=round(ready - compressed, 3),
        )
        self._index_seconds = 0.0
        return size

    def _compaction_pays(self) -> bool:
        pages = int(self.conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(self.conn.execute("PRAGMA freelist_count").fetchone()[0])
        page_size = int(self.conn.execute("PRAGMA page_size").fetchone()[0])
        return (pages - free) * page_size <= COMPACT_MAX_BYTES or free >= COMPACT_FREE_SHARE * pages

    def close(self) -> None:
        self._tx_started = None
        self.conn.close()


def _resource_type_named(data: bytes, key: Sequence[Any]) -> bool:
    return bool(resource_pb2.ResourceType.FromString(data).id == key[0])


def _resource_named(data: bytes, key: Sequence[Any]) -> bool:
    rid = resource_pb2.Resource.FromString(data).id
    return bool(rid.resource) and rid.resource_type == key[0] and ids.resource_key(key[0], rid.resource) == key[1]


def _entitlement_named(data: bytes, key: Sequence[Any]) -> bool:
    entitlement = entitlement_pb2.Entitlement.FromString(data)
    return bool(entitlement.id) and entitlement.id == key[0]


def _grant_named(data: bytes, key: Sequence[Any]) -> bool:
    grant = grant_pb2.Grant.FromString(data)
    # A slim grant (a Go writer's) leaves its entitlement to the row's columns (c1z-format.md §2.5).
    return (
        bool(grant.id) and grant.id == key[0] and (not grant.HasField("entitlement") or grant.entitlement.id == key[1])
    )


# Each table of a sync's objects: what it holds, the key columns its rows are found by, and whether a row's object is the
# one they name (`_Db._check_objects`).
_ROW_OBJECTS: tuple[tuple[str, str, tuple[str, ...], Callable[[bytes, Sequence[Any]], bool]], ...] = (
    ("v1_resource_types", "resource type", ("external_id",), _resource_type_named),
    ("v1_resources", "resource", ("resource_type_id", "external_id"), _resource_named),
    ("v1_entitlements", "entitlement", ("external_id",), _entitlement_named),
    ("v1_grants", "grant", ("external_id", "entitlement_id"), _grant_named),
)


def _names_late_column(statement: str) -> bool:
    """Indexes on columns that older files gain only in `ensure_schema`'s migration step."""
    return "v1_grants (sync_id) where" in statement or "idx_grants_entitlement_sync_grant" in statement


class C1ZStore:
    """The working SQLite file of one c1z, behind its own thread. Create with `await C1ZStore.open(...)`."""

    def __init__(
        self, db: _Db, workdir: WorkDir, executor: ThreadPoolExecutor, *, set_aside_finished: bool = False
    ) -> None:
        self._db = db
        self._workdir = workdir
        self._executor = executor
        # The c1z was found damaged on opening (the store started empty instead) and holds a finished sync all the
        # same: what Go readers and `inspect` may still show. `sync_to_file` does not save a failed run over it.
        self.set_aside_finished = set_aside_finished
        self._sync_id: str | None = None
        self._closed = False
        # Writes submitted but not awaited (see `write`), oldest first.
        self._pending: deque[asyncio.Future[None]] = deque()
        self._write_failed = False
        # Writers waiting in `room`, first come first served: each finished write wakes one (a failed one wakes
        # all). Waking every writer on every finished write cost ~14 task switches per page with the engine's
        # 16 grant workers (issue 12).
        self._room_waiters: deque[asyncio.Future[None]] = deque()

    @property
    def dropped_oversized(self) -> int:
        """Records left out so far for an object too large to read back (`_Db._storable`); final once the writes are
        awaited (`end_sync`)."""
        return self._db.dropped_oversized

    # -- opening -------------------------------------------------------------------------------------------

    @classmethod
    async def create(cls, tmp_dir: Path | None = None) -> C1ZStore:
        """A new empty store."""
        return await cls._start(None, tmp_dir)

    @classmethod
    async def open(cls, c1z_path: Path, tmp_dir: Path | None = None) -> C1ZStore:
        """The store inside an existing c1z file, or a new one when the file does not exist or is empty.

        A file that is not a c1z at all is refused (`C1ZFormatError`): it may be something else of the user's.
        """
        return await cls._start(c1z_path, tmp_dir)

    @classmethod
    async def _start(cls, c1z_path: Path | None, tmp_dir: Path | None) -> C1ZStore:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="c1z-store")
        stop = threading.Event()
        # In the caller's context, as every job below: its lines ("existing c1z is damaged", "c1z saved") carry the
        # task id bound there, and a debugged task's log (connector/baton/tasks/debuglog.py) keeps them.
        opening = executor.submit(contextvars.copy_context().run, _open_db, c1z_path, tmp_dir, stop)
        try:
            db, workdir, set_aside_finished = await asyncio.wrap_future(opening)
        except BaseException:
            # Cancelled while the thread was still opening: it stops at its next chunk or SQLite step (SIGTERM waited for
            # the whole of a large file to be decompressed and checked), and what it opened is closed right after.
            stop.set()
            executor.submit(_discard, opening)
            executor.shutdown(wait=False)
            raise
        return cls(db, workdir, executor, set_aside_finished=set_aside_finished)

    def _submit(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[R]:
        if self._closed:
            raise RuntimeError("the store is closed")
        job: Callable[[], R] = functools.partial(_guarded, self._db, fn, *args, **kwargs)
        # In the caller's context (see `_start`).
        return asyncio.get_running_loop().run_in_executor(self._executor, contextvars.copy_context().run, job)

    async def _call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a job and wait for it; an earlier write's failure is raised first (it is the cause)."""
        self._raise_write_failure()
        try:
            result = await self._submit(fn, *args, **kwargs)
        except Exception:
            self._raise_write_failure()
            raise
        self._raise_write_failure()
        return result

    def _raise_write_failure(self) -> None:
        """Raise the first failed queued write, once; the writes refused after it are its consequence."""
        while self._pending and self._pending[0].done():
            write = self._pending.popleft()
            failure = None if write.cancelled() else write.exception()
            if failure is not None and not self._write_failed:
                self._write_failed = True
                raise failure

    # -- lifecycle -----------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Drop the working file without saving. Runs even when the caller is being cancelled."""
        if self._closed:
            return
        done = self._submit(_close, self._db, self._workdir)
        self._closed = True
        self._executor.shutdown(wait=False)
        try:
            await asyncio.shield(done)
        finally:
            for write in self._pending:  # all done before the close job; their errors were raised or superseded
                if write.done() and not write.cancelled():
                    write.exception()
            self._pending.clear()

    async def save(self, c1z_path: Path, *, vacuum: bool = True) -> int:
        """Write the store as a c1z at `c1z_path` (atomically); returns the file size. The store stays open."""
        return await self._call(self._db.save, c1z_path, vacuum)

    # -- sync runs -----------------------------------------------------------------------------------------

    @property
    def from_file(self) -> bool:
        """Whether the store holds an existing c1z's rows (False: it started empty)."""
        return not self._db._fresh

    @property
    def sync_id(self) -> str:
        if self._sync_id is None:
            raise RuntimeError("no sync is active: call start_sync or resume_sync first")
        return self._sync_id

    async def sync_runs(self) -> list[rows.SyncRun]:
        return await self._call(self._db.sync_runs)

    async def resumable_sync(self, sync_type: str = "full", now: datetime | None = None) -> rows.SyncRun | None:
        """The newest unfinished sync of this type younger than 7 days, as Go would resume it."""
        cutoff = (now or datetime.now()) - RESUME_MAX_AGE
        candidates = []
        for run in await self.sync_runs():
            if run.finished or run.sync_type != sync_type:
                continue
            try:
                started = parse_sqlite_time(run.started_at)
            except ValueError:
                continue  # an unreadable start time: not something to resume
            if started >= cutoff:
                candidates.append(run)
        return max(candidates, key=lambda r: (r.started_at, r.sync_id), default=None)

    async def start_sync(self, sync_type: str = "full", parent_sync_id: str = "") -> str:
        sync_id = new_ksuid()
        await self._call(self._db.start_sync, sync_id, sync_type, parent_sync_id)
        self._sync_id = sync_id
        return sync_id

    async def resume_sync(self, sync_id: str) -> str:
        """Continue an unfinished sync; returns its saved state token. `rows_changed` then says whether the file holds
        the rows the token's pages stored."""
        token = await self._call(self._db.resume_sync, sync_id)
        self._sync_id = sync_id
        return token

    async def rows_changed(self, record: object) -> str | None:
        """How the resumed sync's rows differ from what its token records (`_Db.rows_changed`); None: they are its own."""
        return await self._call(self._db.rows_changed, self.sync_id, record)

    async def write(
        self,
        token: str | None,
        *,
        resource_types: Sequence[resource_pb2.ResourceType] = (),
        resources: Sequence[resource_pb2.Resource] = (),
        entitlements: Sequence[entitlement_pb2.Entitlement] = (),
        grants: Sequence[grant_pb2.Grant] = (),
    ) -> None:
        """Store one page and the state token that follows it, all or nothing; returns once it is queued.

        Writes are pipelined: the engine fetches the next page while the store thread writes this one, without
        a thread hop per page. Jobs run in order, so a later read sees every earlier write. A failed write is
        raised by the next store call (or this one, if it already failed), and no later write runs, so the
        stored state never claims a page that is not there. At most `MAX_PENDING_WRITES` wait in the queue.
        The objects are serialized on the store thread: the caller must not change them afterwards.
        `token=None` leaves the saved state as it is.
        """
        await self.room()
        if self._write_failed:
            raise InternalError("an earlier page could not be stored; the sync cannot go on")
        queued = self._submit(self._db.write, self.sync_id, token, resource_types, resources, entitlements, grants)
        queued.add_done_callback(self._wake_room_waiters)
        self._pending.append(queued)

    async def room(self) -> None:
        """Wait until `write` can queue a page at once (raising an earlier write's failure).

        Writers that share one state (the engine's concurrent grant listings) await this before changing the
        state, then marshal and `write` without awaiting in between: the tokens are queued in the order they were
        made, so none claims a page still waiting for room (its writer may be cancelled there).
        """
        self._raise_write_failure()
        while len(self._pending) >= MAX_PENDING_WRITES:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._room_waiters.append(waiter)
            try:
                await waiter  # never cancels the write itself
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_room_waiters(None)  # woken, then cancelled: the wake goes to the next writer
                elif waiter in self._room_waiters:  # a finished write may have skipped it already
                    self._room_waiters.remove(waiter)
                raise
            self._raise_write_failure()

    def _wake_room_waiters(self, finished: asyncio.Future[None] | None) -> None:
        """A queued write finished (or a woken writer gave up its turn): wake the writer first in line, or every
        writer when the write failed, so each raises the failure instead of waiting for room that never comes."""
        failed = finished is not None and (finished.cancelled() or finished.exception() is not None)
        while self._room_waiters:
            waiter = self._room_waiters.popleft()
            if waiter.done():
                continue
            waiter.set_result(None)
            if not failed:
                return

    async def end_sync(self, token: str, *, supports_diff: bool) -> dict[str, Any]:
        """Mark the active sync finished and cache its stats; returns the stats."""
        return await self._call(self._db.end_sync, self.sync_id, token, supports_diff)

    async def drop_left_out_dependants(self) -> int:
        """Delete what depends on a record left out for its size (`_Db.drop_left_out_dependants`); how many."""
        return await self._call(self._db.drop_left_out_dependants, self.sync_id)

    async def drop_dangling_grants(self) -> DanglingGrants:
        """Delete the active sync's grants naming an entitlement or an entitlement resource it does not hold
        (`_Db.drop_dangling_grants`)."""
        return await self._call(self._db.drop_dangling_grants, self.sync_id)

    async def keep_only(self, sync_id: str) -> None:
        """Delete every other sync run and its rows, so the file holds exactly one sync."""
        await self._call(self._db.keep_only, sync_id)

    async def drop_other_partials(self, keep: str = "", *, unfinished_only: bool = False) -> None:
        """Delete every partial sync run but `keep` (with `unfinished_only`, every unfinished one), and its rows (an
        unfinished one is never resumed: a targeted run always starts afresh)."""
        await self._call(self._db.drop_other_partials, keep, unfinished_only)

    async def drop_unfinished_full(self, keep: str = "") -> None:
        """Delete every unfinished full sync run but `keep` (the run being resumed; '' as a new sync starts), and its
        rows. Only the newest unfinished run is ever resumed, so the others are never read again: kept, every failed
        run that could not resume the one before it (its token empty after a failure that is not resumable, or
        written with other settings) was saved beside it, a whole sync's rows more in the file at every failure; and
        a run dated later than now (a clock set back, local time's hour after summer time) stayed the "newest", so
        every later run started over instead of resuming its own progress."""
        runs = await self.sync_runs()
        if any(run.sync_type == "full" and not run.finished and run.sync_id != keep for run in runs):
            await self._call(self._db.drop_unfinished_full, keep)  # a pass over each table: only when one is there

    # -- reads the sync engine needs -----------------------------------------------------------------------

    async def resource_types(self) -> list[resource_pb2.ResourceType]:
        return await self._call(self._db.resource_types, self.sync_id)

    async def resources_after(
        self, resource_type_id: str, after_row_id: int, limit: int
    ) -> tuple[list[tuple[int, resource_pb2.Resource]], bool]:
        """Stored resources of a type in row order after `after_row_id`, at most `limit` (fewer when they are large:
        `_Db.resources_after`), and whether more may follow: the engine's resumable cursor."""
        return await self._call(self._db.resources_after, self.sync_id, resource_type_id, after_row_id, limit)

    async def get_resource(self, resource_type_id: str, resource_id: str) -> resource_pb2.Resource | None:
        return await self._call(self._db.get_resource, self.sync_id, resource_type_id, resource_id)

    async def stored_resources(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (type, id) resources the active sync has stored (after every write queued before)."""
        return await self._call(self._db.stored_resources, self.sync_id, keys)

    async def stray_row(self, type_ids: Sequence[str], empty: Sequence[str] = ()) -> str | None:
        """A row the active sync holds that names a type outside `type_ids`, or sits in a table of `empty` (`_Db.stray_row`)."""
        return await self._call(self._db.stray_row, self.sync_id, type_ids, empty)

    async def count(self, table: str) -> int:
        return await self._call(self._db.count, self.sync_id, table)

    async def types_outside(self, known: Collection[str], limit: int) -> list[str]:
        """Up to `limit` resource type ids the file names, in any of its syncs, outside `known` (`rows.types_outside`)."""
        return await self._call(rows.types_outside, self._db.conn, known, limit)


def _open_db(
    c1z_path: Path | None, tmp_dir: Path | None, stop: threading.Event | None = None
) -> tuple[_Db, WorkDir, bool]:
    """On the store thread: a locked working directory, the decompressed file (if any), the schema checked; and
    whether a damaged file set aside holds a finished sync (`C1ZStore.set_aside_finished`).

    A damaged c1z (right magic, broken body) is not resumed: the sync starts over in a fresh file, with a
    warning naming the file and the damage. Anything that is not a c1z at all is refused. `stop` set (the caller
    gave up): `OpeningStopped` at the next chunk or SQLite step, the working directory removed.
    """
    workdir = WorkDir.create(tmp_dir, "sync")
    db_path = workdir.path / "sync.db"
    set_aside_finished = False
    try:
        source = c1z_path if c1z_path is not None and has_content(c1z_path) else None
        if source is not None:
            try:
                decompress_to(source, db_path, stop)
                check_readable(db_path, source, stop)
                check_writable(db_path, source)
                return _ready(db_path, source, stop), workdir, False
            except DamagedC1ZError as exc:
                check_stop(stop, source)  # SQLite's "interrupted": the stop, not damage
                log.warning(STARTING_OVER, error=str(exc))
                set_aside_finished = _holds_a_finished_run(db_path, stop)
                db_path.unlink(missing_ok=True)
                check_stop(stop, source)
        try:
            fresh = sqlite3.connect(db_path)
            fresh.execute(f"PRAGMA page_size={PAGE_SIZE}")
            fresh.execute("PRAGMA encoding='UTF-8'")
            # Both take effect when the file's first page is written: closed before that, the file stayed empty and
            # the next connection made it with SQLite's defaults.
            fresh.execute("VACUUM")
            fresh.close()
        except (sqlite3.Error, OSError) as exc:
            failure = working_file_failure(db_path, "creating the sync's working file", exc)
            if failure is None:
                raise
            raise failure from exc
        return _ready(db_path, None), workdir, set_aside_finished
    except BaseException:
        workdir.release()
        raise


def _holds_a_finished_run(db_path: Path, stop: threading.Event | None = None) -> bool:
    """Whether the working copy of a c1z found damaged still records a finished sync run; False when that cannot be
    told. A failed restart saved its unfinished run over such a file, and the finished sync (a trigger or an index of
    the file's own beside it, a later run's row of the wrong type) was gone for good.

    The file's own SQL is never run: `ended_at` must be a stored column of a real table (`schema.stored_columns`); the
    runs are scanned until one has ended, stopped when `stop` is set (False then: the caller raises)."""
    if not db_path.is_file():
        return False
    try:
        conn = connect_read_only(db_path)
    except rows.SQLITE_ERRORS:
        return False
    try:
        if not stored_columns(conn, "v1_sync_runs", "ended_at"):
            return False
        stop_when(conn, stop)
        return conn.execute("SELECT 1 FROM v1_sync_runs WHERE ended_at IS NOT NULL LIMIT 1").fetchone() is not None
    except rows.SQLITE_ERRORS:
        return False
    finally:
        conn.close()


def _ready(db_path: Path, source: Path | None, stop: threading.Event | None = None) -> _Db:
    db = _Db(db_path, source)
    try:
        stop_when(db.conn, stop)  # a resumed file's schema step may build its missing indexes over every row
        _guarded(db, db.ensure_schema, defer_indexes=True)
        if source is not None:
            _guarded(db, db.rebuild_indexes)
        _guarded(db, db.start_load)
        stop_when(db.conn, None)
    except BaseException:
        db.close()
        raise
    return db


def has_content(path: Path) -> bool:
    """False for a missing or empty file (a fresh sync goes there); a clear error for a non-regular one, or one the OS
    will not look up (a directory on its way this user may not search: `open_regular` names the refusal; raised by
    `exists`, it was a PermissionError out of the service's periodic sync)."""
    try:
        missing = not path.exists()
    except OSError:
        missing = False
    if missing:
        if not path.is_symlink():
            return False
        try:
            os.path.realpath(path, strict=True)
        except FileNotFoundError:
            return False  # a link to where the file will live (the save writes through it)
        except OSError:
            pass  # a loop: open_regular names it
    with open_regular(path) as file:
        return bool(file.read(1))


def _discard(opening: Future[tuple[_Db, WorkDir, bool]]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        db, workdir, _ = opening.result()
        _close(db, workdir)


def _close(db: _Db, workdir: WorkDir) -> None:
    try:
        db.close()
    finally:
        workdir.release()


def _guarded(db: _Db, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a store job; a full disk and a damaged file become clear errors naming the file."""
    try:
        return fn(*args, **kwargs)
    except C1ZFormatError:
        raise
    except (*rows.SQLITE_ERRORS, OSError) as exc:
        # The disk under the working file (full, a file-size limit, an I/O error, its directory removed): the
        # place's fault, named as such. Calling it a damaged c1z started a resumed sync over and hid the cause.
        failure = working_file_failure(db.db_path, "storing the sync", exc)
        if failure is not None:
            raise failure from exc
        if isinstance(exc, sqlite3.DatabaseError | UnicodeDecodeError):
            raise DamagedC1ZError(f"{db.source}: damaged SQLite database: {rows.value_problem(exc)}") from exc
        raise
    except DecodeError as exc:
        raise DamagedC1ZError(f"{db.source}: a stored object does not decode: {exc}") from exc
