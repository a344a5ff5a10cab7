"""The v1 c1z SQLite schema, exactly as the Go SDK (v0.25.0) creates it.

Names, declared types, defaults and index definitions are the contract; whitespace is not. Two quirks are
kept on purpose: the `v1_resources` index names are swapped relative to their columns (a Go format-argument
order bug that every existing file carries), and timestamps are declared `datetime` because the Go driver
parses such columns into time values.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

from connector.baton.c1z import rows
from connector.baton.c1z.errors import DamagedC1ZError, check_stop, working_file_failure
from connector.baton.errors import ConnectorError

DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS v1_resource_types (
    id integer primary key,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_resource_types_external_sync_v1 on v1_resource_types (external_id, sync_id)",
    """CREATE TABLE IF NOT EXISTS v1_resources (
    id integer primary key,
    resource_type_id text not null,
    external_id text not null,
    parent_resource_type_id text,
    parent_resource_id text,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)""",
    "CREATE INDEX IF NOT EXISTS idx_resources_resource_type_id_v1 on v1_resources (resource_type_id)",
    # Swapped names, as in every Go-written file: see the module docstring.
    "CREATE INDEX IF NOT EXISTS idx_resources_external_sync_v1 "
    "on v1_resources (parent_resource_type_id, parent_resource_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_resources_parent_resource_id_v1 on v1_resources (external_id, sync_id)",
    """CREATE TABLE IF NOT EXISTS v1_entitlements (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    external_id text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)""",
    "CREATE INDEX IF NOT EXISTS idx_entitlements_resource_id_v1 on v1_entitlements (resource_type_id, resource_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_entitlements_external_sync_v1 on v1_entitlements (external_id, sync_id)",
    """CREATE TABLE IF NOT EXISTS v1_sync_runs (
    id integer primary key,
    sync_id text not null,
    started_at datetime not null,
    ended_at datetime,
    sync_token text not null,
    sync_type text not null default 'full',
    parent_sync_id text not null default '',
    linked_sync_id text not null default '',
    supports_diff integer not null default 0,
    grants_backfilled integer not null default 0,
    stats text,
    ingest_invariant_generation text not null default '',
    ingest_invariant_coverage text not null default '',
    ingest_invariant_mode text not null default ''
)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_sync_runs_sync_id_v1 on v1_sync_runs (sync_id)",
    """CREATE TABLE IF NOT EXISTS v1_grants (
    id integer primary key,
    resource_type_id text not null,
    resource_id text not null,
    entitlement_id text not null,
    principal_resource_type_id text not null,
    principal_resource_id text not null,
    external_id text not null,
    expansion blob,
    needs_expansion integer not null default 0,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)""",
    "CREATE INDEX IF NOT EXISTS idx_grants_resource_type_id_resource_id_v1 on v1_grants (resource_type_id, resource_id)",
    "CREATE INDEX IF NOT EXISTS idx_grants_principal_id_v1 "
    "on v1_grants (principal_resource_type_id, principal_resource_id)",
    "CREATE INDEX IF NOT EXISTS idx_grants_entitlement_id_principal_id_v1 "
    "on v1_grants (entitlement_id, principal_resource_type_id, principal_resource_id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_grants_external_sync_v1 on v1_grants (external_id, sync_id)",
    "CREATE INDEX IF NOT EXISTS idx_grants_entitlement_sync_grant_v1 on v1_grants (entitlement_id, sync_id, id)",
    "CREATE INDEX IF NOT EXISTS idx_grants_sync_expansion_v1 on v1_grants (sync_id) where expansion is not null",
    "CREATE INDEX IF NOT EXISTS idx_grants_sync_needs_expansion_v1 on v1_grants (sync_id) where needs_expansion = 1",
    """CREATE TABLE IF NOT EXISTS v1_assets (
    id integer primary key,
    external_id text not null,
    content_type text not null,
    data blob not null,
    sync_id text not null,
    discovered_at datetime not null
)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_assets_external_sync_v1 on v1_assets (external_id, sync_id)",
    """CREATE TABLE IF NOT EXISTS v1_connector_sessions (
    id integer primary key,
    sync_id text NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL
)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS idx_session_store_sync_key_v1 on v1_connector_sessions (sync_id, key)",
)

# Grant indexes that no read during a sync needs: a working file drops them while it loads and builds them
# once before it is saved (building an index over sorted data is cheaper than upkeep per row). That includes
# the unique (external_id, sync_id) one: grants load with a plain INSERT, and a grant stored twice is merged
# as the upsert would have left it (`rows.merge_duplicate_grants`) before the index is built (a 100k-user
# load: -0.7 to -1.1 s of the store thread's CPU for +0.1-0.25 s of index build; docs/benchmarks.md, "Store
# thread: the grants' unique index built after the load").
# The two partial indexes (`... where expansion is not null`, `... where needs_expansion = 1`) stay: almost no
# row enters them, so their upkeep is a test per row, while building them later costs a scan of the grants
# table each at the end of the sync (0.11 s of the tail at 100k users).
DEFERRED_INDEXES: tuple[str, ...] = (
    "idx_grants_resource_type_id_resource_id_v1",
    "idx_grants_principal_id_v1",
    "idx_grants_entitlement_id_principal_id_v1",
    "idx_grants_entitlement_sync_grant_v1",
    "idx_grants_external_sync_v1",
)

# The indexes of `v1_resources`, the unique (external_id, sync_id) one last (Go's names are swapped: see the module
# docstring). Unlike the grants' indexes, reads during a sync need them (`get_resource`, `stored_resources`, and
# `resources_after`, which must not see a resource twice), so a file the store creates loads its resources without
# them only until the first read of `v1_resources`: in a sync that lists every resource type before reading any back
# (the Datadog one), the whole users walk. A resource stored twice before then is merged as the upsert would have
# left it (`rows.merge_duplicate_resources`). A 100k-user load, replayed (alternated pairs): the unique index alone
# cut the users walk's store CPU by 0.45-0.95 s for +0.1 s of index build (c1z -1.2%); the two others, 0.18-0.28 s
# for +0.1 s more (c1z -1.1% more: each index is written in key order).
DEFERRED_RESOURCE_INDEXES: tuple[str, ...] = (
    "idx_resources_resource_type_id_v1",
    "idx_resources_external_sync_v1",
    "idx_resources_parent_resource_id_v1",
)

# The most tables, indexes and other objects a file's schema may hold: Go's has 7 tables and 17 indexes. Each is checked
# (`_schema_code`) and then carried into every file saved from it: 40,000 empty ones (400 KB of c1z) took `inspect`
# 7 s, and a sync into the file as long again per connection, saving them all.
MAX_SCHEMA_OBJECTS = 1000
# The most bytes of SQL the file's schema may take: Go's takes about 5 KB. `_schema_code` reads all of it and searches
# it: a 615 KB file whose four extra tables carried 60 MB comments each (`CREATE TABLE x (a /* ... */)`) took
# `inspect` 11 s and 341 MB, and the cap on the database (10 GiB) would let the text grow to gigabytes, all read at
# once. Counted in SQLite, before any of it is read.
MAX_SCHEMA_SQL_BYTES = 1 << 20

# What a reader needs of a file, whatever SDK version wrote it; everything else is optional.
REQUIRED_COLUMNS: dict[str, frozenset[str]] = {
    "v1_sync_runs": frozenset({"sync_id", "started_at", "ended_at", "sync_token"}),
    "v1_resource_types": frozenset({"id", "external_id", "data", "sync_id"}),
    "v1_resources": frozenset({"id", "resource_type_id", "external_id", "data", "sync_id"}),
    "v1_entitlements": frozenset({"id", "resource_type_id", "external_id", "data", "sync_id"}),
    "v1_grants": frozenset({"id", "resource_type_id", "entitlement_id", "external_id", "data", "sync_id"}),
}

# Columns that Go's migrations add to older files (baton-sdk v0.1.14 has none of them); a reader must not
# assume them, a writer adds them.
SYNC_RUN_COLUMNS_ADDED_LATER: tuple[tuple[str, str], ...] = (
    ("sync_type", "text not null default 'full'"),
    ("parent_sync_id", "text not null default ''"),
    ("linked_sync_id", "text not null default ''"),
    ("supports_diff", "integer not null default 0"),
    ("grants_backfilled", "integer not null default 0"),
    ("stats", "text"),
    ("ingest_invariant_generation", "text not null default ''"),
    ("ingest_invariant_coverage", "text not null default ''"),
    ("ingest_invariant_mode", "text not null default ''"),
)


def sqlite_time(moment: datetime | None = None) -> str:
    """Go's `2006-01-02 15:04:05.999999999` layout in local time: no zone, trailing fraction zeros trimmed.

    Go compares these as text (e.g. the 7-day resume cutoff), so ISO `T...Z` strings would sort wrongly.
    """
    local = (moment or datetime.now()).astimezone().replace(tzinfo=None)
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    if local.microsecond:
        text += "." + f"{local.microsecond:06d}".rstrip("0")
    return text


def parse_sqlite_time(text: str) -> datetime:
    """Inverse of `sqlite_time`; also accepts the nanosecond fractions Go may write."""
    head, _, fraction = text.partition(".")
    moment = datetime.strptime(head, "%Y-%m-%d %H:%M:%S")
    if fraction:
        moment = moment.replace(microsecond=int(fraction[:6].ljust(6, "0")))
    return moment


def connect_read_only(db_path: Path) -> sqlite3.Connection:
    """A read-only connection to `db_path`, whatever characters its path holds.

    Read-only takes a URI, and a temp dir's `#`, `?` or `%` cut or changed the path in a plain `file:{path}`:
    SQLite opened another (empty) file, and every c1z read as "no table v1_sync_runs" (a one-shot sync started over
    from a good --file, inspect refused them all). `as_uri` percent-encodes them.
    """
    return rows.guard_connection(
        sqlite3.connect(Path(os.path.abspath(db_path)).as_uri() + "?mode=ro", uri=True), db_path
    )


def check_readable(db_path: Path, source: Path, stop: threading.Event | None = None) -> None:
    """Refuse a damaged database or one without the tables and columns every reader needs.

    `source` (the c1z the file came from) is what the error names. SQLite's own `quick_check` finds damaged
    pages; the schema check turns "no such table" deep inside a read into one clear message up front. `stop` set:
    SQLite stops at its next steps (`stop_when`), raising `OpeningStopped`; set already, it starts nothing.
    """
    check_stop(stop, source)
    try:
        conn = connect_read_only(db_path)
    except rows.SQLITE_ERRORS as exc:
        raise _unreadable(db_path, exc) or DamagedC1ZError(
            f"{source}: not a readable SQLite database: {rows.value_problem(exc)}"
        ) from exc
    stop_when(conn, stop)
    try:
        verdict = conn.execute("PRAGMA quick_check(1)").fetchone()
        if verdict is None or verdict[0] != "ok":
            raise DamagedC1ZError(f"{source}: damaged SQLite database ({verdict[0] if verdict else 'no verdict'})")
        objects = int(conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
        if objects > MAX_SCHEMA_OBJECTS:
            raise DamagedC1ZError(
                f"{source}: not a c1z database (it holds {objects:,} tables, indexes and other objects; a c1z holds "
                f"a few dozen, at most {MAX_SCHEMA_OBJECTS:,} are read)"
            )
        sql_bytes = int(conn.execute("SELECT total(length(CAST(sql AS BLOB))) FROM sqlite_master").fetchone()[0])
        if sql_bytes > MAX_SCHEMA_SQL_BYTES:
            raise DamagedC1ZError(
                f"{source}: not a c1z database (its schema's SQL takes {sql_bytes:,} bytes; a c1z's takes a few KB, "
                f"at most {MAX_SCHEMA_SQL_BYTES:,} are read)"
            )
        code = _schema_code(conn)
        if code:
            raise DamagedC1ZError(
                f"{source}: not a c1z database (it holds {code}; a c1z holds plain tables and indexes)"
            )
        for table, needed in REQUIRED_COLUMNS.items():
            have = {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}
            if not have:
                raise DamagedC1ZError(f"{source}: not a c1z database (no table {table})")
            missing = sorted(needed - have)
            if missing:
                raise DamagedC1ZError(f"{source}: table {table} lacks the column(s) {', '.join(missing)}")
            if "id" in needed and not _id_is_rowid(conn, table):
                raise DamagedC1ZError(
                    f"{source}: table {table}: its id column is not the table's integer primary key "
                    "(its rows cannot be read in order)"
                )
            if "id" in needed:
                # Readers page from id 0 up (`rows.iter_blobs`, the engine's `resources_after` cursor): a row whose id
                # is 0 or less (SQLite allows any 64-bit rowid; Go's start at 1) was never listed, and `inspect
                # --grants` printed none of a file's 99 grants beside a summary counting them, and exited 0.
                lowest = conn.execute(f"SELECT min(id) FROM {table}").fetchone()[0]  # noqa: S608 - our table names
                if lowest is not None and lowest < 1:
                    raise DamagedC1ZError(
                        f"{source}: table {table} holds a row whose id is {lowest}, not 1 or more "
                        "(its rows cannot be read in order)"
                    )
        # Every use of a file starts from its sync runs (few rows): one of the wrong type is damage found here,
        # where a sync into the file starts over, not a ValueError out of the resume ("unexpected error").
        rows.read_sync_runs(conn)
    except rows.SQLITE_ERRORS as exc:  # before ValueError: a message not UTF-8 is a UnicodeDecodeError
        check_stop(stop, source)  # SQLite's "interrupted": the stop, not damage
        raise _unreadable(db_path, exc) or DamagedC1ZError(
            f"{source}: damaged SQLite database: {rows.value_problem(exc)}"
        ) from exc
    except ValueError as exc:
        raise DamagedC1ZError(f"{source}: {exc}") from exc
    finally:
        conn.close()


# SQLite's file format write version (header byte 18): 1 (rollback journal) or 2 (WAL). A file of a later version
# opens read-only, whatever the file system allows.
_WRITE_VERSION_AT = 18
_WRITE_VERSIONS = (1, 2)


def check_writable(db_path: Path, source: Path) -> None:
    """Refuse a database that SQLite reads but will not write (`source` is what the error names), as damage: a sync
    into the file starts over in a new one. Its header's write version made every sync into it fail as SQLITE_READONLY
    ("cannot use the working file ... attempt to write a readonly database"), blamed on the working directory, for
    good."""
    try:
        with db_path.open("rb") as file:
            header = file.read(_WRITE_VERSION_AT + 1)
    except OSError as exc:
        raise working_file_failure(db_path, "checking the working copy", exc) from exc
    version = header[_WRITE_VERSION_AT] if len(header) > _WRITE_VERSION_AT else None
    if version not in _WRITE_VERSIONS:
        raise DamagedC1ZError(
            f"{source}: a SQLite file of write version {version} (SQLite writes versions 1 and 2: it can be read, "
            "not written)"
        )


# SQLite virtual machine steps between two looks at a `stop` (`stop_when`): a few milliseconds of work even where a
# step is costly. Each look takes the GIL (a check of a 221 MiB file took 55 % longer beside a thread running
# Python); at 100,000 a file whose check evaluates a costly column stopped 29 s after the stop, at 1,000 0.1 s.
_STEPS_PER_LOOK = 1000


def stop_when(conn: sqlite3.Connection, stop: threading.Event | None) -> None:
    """Make every statement of `conn` fail ("interrupted") once `stop` is set; None: clear that."""
    if stop is None:
        conn.set_progress_handler(None, 0)
    else:
        conn.set_progress_handler(stop.is_set, _STEPS_PER_LOOK)


def stored_columns(conn: sqlite3.Connection, table: str, *columns: str) -> bool:
    """Whether `table` is a table of rows by SQLite's own account (`table_list`: not a view, a virtual or shadow table,
    whatever the file's `sqlite_master` says: an FTS5 table dressed as one was read, and ran a view of the file's) and
    each of `columns` a stored value of it, not generated on read (a stored generated column is read as stored). Read
    so, a damaged file runs none of its own SQL. An SQLite before 3.37 cannot tell: False."""
    try:
        listed = conn.execute(f"PRAGMA main.table_list({table})").fetchall()
    except rows.SQLITE_ERRORS:
        return False
    if len(listed) != 1 or listed[0][2] != "table":
        return False
    stored = {str(c[1]).lower() for c in conn.execute(f"PRAGMA table_xinfo({table})") if c[6] in (0, 3)}
    return set(columns) <= stored


def _unreadable(db_path: Path, exc: Exception) -> ConnectorError | None:
    """An I/O failure of the disk under the working copy: the place's fault, not damage of the c1z."""
    return working_file_failure(db_path, "checking the working copy", exc)


def _id_is_rowid(conn: sqlite3.Connection, table: str) -> bool:
    """Whether `id` is the table's rowid (`id integer primary key`, as every Go-written table has it).

    Readers page through rows by `id` (`WHERE id > ? ORDER BY id`): over an `id` that may repeat, be NULL or text (a
    table declared otherwise), `inspect --grants` listed 1,000 of a file's 1,665 grants, or none, and exited 0.
    SQLite makes `id` an alias of the rowid only for a sole primary key column declared exactly INTEGER, and then
    builds no index for the key (it does for DESC, WITHOUT ROWID, INT, ...).
    """
    keys = [(str(row[1]), str(row[2]).upper()) for row in conn.execute(f"PRAGMA table_info({table})") if row[5]]
    key_indexes = [row for row in conn.execute(f"PRAGMA index_list({table})") if row[3] == "pk"]
    return keys == [("id", "INTEGER")] and not key_indexes


def _schema_code(conn: sqlite3.Connection) -> str:
    """The first piece of the file's own SQL that SQLite would run as rows are read or written, described, or "".

    A view, trigger or virtual table runs whenever a table is read or written: a view named `v1_grants` over an
    endless recursive query hung `inspect` for good (SIGTERM waits for SQLite to return), a trigger would run on each
    row a resumed sync stores. An index on an expression, a partial index's WHERE, a CHECK constraint, a generated
    column or a default that is an expression run on each row stored, whatever their cost: a CHECK or an index on
    `length(printf('%.*c', 300000000, 'x'))` took a second and 300 MB per row a resumed sync wrote. Go writes none
    of them but the two partial grant indexes (ours too, `DDL`); plain tables and indexes cost at most a pass.
    A conflict clause or a collation of the file's own is a rule on which rows a write keeps (`_CONFLICT`).
    AUTOINCREMENT takes a write's ids from a counter of the file's own, which may have none left.
    """
    # The type, name and table of each row SQLite checks against its SQL as it loads the schema ("malformed database
    # schema" otherwise), but a virtual table is of type 'table', and its SQL text is no guide: found by `LIKE 'CREATE
    # VIRTUAL TABLE%'`, one written `CREATE /* */ VIRTUAL TABLE` was accepted, and a `v1_sync_runs` made an fts5 table
    # so was read through it. `table_list` (SQLite 3.37+, as `stored_columns`) says what SQLite loaded.
    cursor = conn.execute(
        "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger') ORDER BY rowid LIMIT 1"
    )
    found = cursor.fetchone()
    if found is not None:
        return _described(str(found[0]), found[1])
    others = {str(row[2]): row[1] for row in conn.execute("PRAGMA main.table_list") if row[2] != "table"}
    for kind in ("virtual", *others):  # a virtual table's shadow tables are listed too, before it or after
        if kind in others:
            return _described(f"{kind} table" if kind != "view" else kind, others[kind])
    objects = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('table', 'index')")
    for kind, name, table, sql in objects.fetchall():
        if kind == "index":
            key = [col for col in conn.execute(f"PRAGMA index_xinfo({_quoted(name)})") if col[5]]
            if any(not _is_binary(str(col[4])) for col in key):
                return _described("index comparing text by a collation of its own", name)
            if sql is None:
                continue  # a UNIQUE or PRIMARY KEY constraint's own index: plain columns
            if any(int(col[1]) == -2 for col in key):
                return _described("index on an expression", name)
            condition = _partial_condition(_sql_code(str(sql))[0])
            if condition is not None and condition not in _OUR_PARTIAL_CONDITIONS:
                return _described("partial index", name)
            continue
        sql, collations = _sql_code(str(sql))
        if _VIRTUAL.match(sql):  # SQLite's own word above; this for one before 3.37, whose `table_list` lists nothing
            return _described("virtual table", name)
        if _CHECK.search(sql):
            return _described("table with a CHECK constraint", name)
        if _AUTOINCREMENT.search(sql):
            # Its ids come from `sqlite_sequence`, the file's own counter: at 2^63-1 every row stored fails as
            # SQLITE_FULL, and every sync into the file ended as "disk full: no space left in" the working directory.
            return _described("table whose ids are AUTOINCREMENT", name)
        if _CONFLICT.search(sql):
            return _described("table with a conflict clause (ON CONFLICT)", name)
        if any(not _is_binary(collation) for collation in collations):
            return _described("table comparing text by a collation of its own", name)
        for column in conn.execute(f"PRAGMA table_xinfo({_quoted(table)})"):
            if column[6] in (2, 3):
                return _described("generated column", f"{table}.{column[1]}")
            if column[4] is not None and not _LITERAL.fullmatch(str(column[4])):
                return _described("default that is an expression, on", f"{table}.{column[1]}")
    return ""


# A default SQLite runs no code for: a number, a string, a blob, NULL, TRUE, FALSE or the current time (Go's: 'full',
# '', 0; an older baton-sdk's `is_partial boolean not null default false`). Every repeat here and below is possessive
# over runs of characters (`'[^']*+(?:''[^']*+)*+'`), never a group repeated per character (`'(?:[^']|'')*'`): Python's
# regex engine keeps state per repeat of a group it may backtrack into, and a 7 KB c1z whose extra table had a 1 MB
# default or quoted name took 125 MB to open.
_STRING = r"'[^']*+(?:''[^']*+)*+'"
_LITERAL = re.compile(
    rf"[-+]?\d++(?:\.\d++)?|{_STRING}|x'[0-9a-f]*+'|NULL|TRUE|FALSE|CURRENT_(?:TIME|DATE|TIMESTAMP)", re.IGNORECASE
)
_CHECK = re.compile(r"\bcheck\s*\(", re.IGNORECASE)
_AUTOINCREMENT = re.compile(r"\bautoincrement\b", re.IGNORECASE)
# A constraint's conflict clause (`NOT NULL ON CONFLICT IGNORE`, `UNIQUE ON CONFLICT REPLACE`) and a collation
# (`COLLATE NOCASE`) decide which rows a write keeps: without a word, a sync into the file stored none of its grants
# (IGNORE on the NULL `expansion` most grants have) or one resource per type (REPLACE on `resource_type_id`), and
# was saved complete. Go's schema has neither.
_CONFLICT = re.compile(r"\bon\s+conflict\b", re.IGNORECASE)
_WHERE = re.compile(r"\bwhere\b", re.IGNORECASE)
_VIRTUAL = re.compile(r"\s*create\s+virtual\b", re.IGNORECASE)

# SQLite's tokenizer (tokenize.c), as far as the searches above need it. It skips whitespace (space, tab, newline, form
# feed, carriage return) and comments (`--` to the end of the line; `/* */` or to the end: a run of stars at a time, so
# no repeat per character) between tokens; a string literal, a quoted name and a name of identifier characters are one
# token each, which the searches must not look into. An unterminated one runs to the end (SQLite refuses it anyway).
# A comment closes at the first `*/`, after a run of stars too (`/***/`, `/* x **/`): a run taken whole and then told
# "not before a slash" could not give its last star back, and the comment's token ended before its stars, the words on
# either side no longer adjacent (`CHECK/***/(...)`, `ON/***/CONFLICT IGNORE` hidden; review r1607).
_BLOCK_COMMENT = r"/\*[^*]*+(?:\*++[^*/][^*]*+)*+(?:\*++/?)?"
_QUOTED_NAME = r"\"[^\"]*+(?:\"\"[^\"]*+)*+\"?|\[[^\]]*+\]?|`[^`]*+(?:``[^`]*+)*+`?"
_NAME_CHAR = r"[0-9A-Za-z_$\x80-\U0010ffff]"
_STRING_TO_END = _STRING + "?"  # its closing quote optional
_TOKENS = re.compile(
    rf"(?P<comment>--[^\n]*+|{_BLOCK_COMMENT})"
    # COLLATE and its name, the next token whatever comes between (`COLLATE"NOCASE"`, `COLLATE /* c */ 'BINARY'`).
    rf"|(?<!{_NAME_CHAR})collate(?!{_NAME_CHAR})(?:[ \t\n\f\r]++|--[^\n]*+|{_BLOCK_COMMENT})*+"
    rf"(?P<collation>{_NAME_CHAR}++|{_STRING_TO_END}|{_QUOTED_NAME})"
    rf"|(?P<string>{_STRING_TO_END})"
    rf"|{_QUOTED_NAME}",
    re.IGNORECASE,
)


def _sql_code(sql: str) -> tuple[str, list[str]]:
    """`sql` as SQLite runs it, each comment a space, each string literal `''` and each quoted name `""`, and the names of the collations it
    sets (`COLLATE name`), unquoted. The schema's searches (`_CHECK`, `_CONFLICT`, `_AUTOINCREMENT`, a partial index's
    WHERE) read the file's SQL text, and Go's own carries comments (its `v1_grants`: `-- 1 if grant should be processed
    during expansion.`): a comment or a default's text that said "check (", "on conflict", "collate" or
    "autoincrement" made a Go-written file "not a c1z database" (inspect exit 2; a one-shot sync replaced it as
    damaged), although SQLite runs none of it and no Go code reads schema text (c1z-format.md §2.4: "DDL text does
    not have to match"). One pass over the text: the collation is read where COLLATE is, not looked back for."""
    collations: list[str] = []

    def token(match: re.Match[str]) -> str:
        if match.group("comment") is not None:
            return " "
        collation = match.group("collation")
        if collation is not None:
            collations.append(_unquoted(collation))
            return " collate '' "
        if match.group("string") is not None:
            return "''"
        return '""'  # a quoted name: a column named "check (" is no CHECK

    return _TOKENS.sub(token, sql), collations


def _unquoted(name: str) -> str:
    """A name as SQLite reads it: `"a""b"`, `'a''b'` and `` `a``b` `` are `a"b`, `a'b` and ``a`b``, `[a]` is `a`."""
    quote = name[:1]
    if quote in ("'", '"', "`"):
        body = name[1:-1] if len(name) > 1 and name.endswith(quote) else name[1:]
        return body.replace(quote * 2, quote)
    if quote == "[":
        return name[1:].removesuffix("]")
    return name


def _is_binary(collation: str) -> bool:
    """Whether SQLite reads `collation` as BINARY: its names compare without ASCII case, and only that (Python's
    `upper` makes the dotless i, U+0131, an `I`)."""
    return collation.isascii() and collation.upper() == "BINARY"


def _partial_condition(sql: str) -> str | None:
    """A partial index's WHERE clause without case, spaces or parentheses (Go's text may differ in them), or None."""
    parts = _WHERE.split(sql, maxsplit=1)
    return re.sub(r"[\s()]", "", parts[1].lower()) if len(parts) == 2 else None


_OUR_PARTIAL_CONDITIONS = frozenset(c for c in map(_partial_condition, DDL) if c is not None)


def _quoted(name: object) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _described(kind: str, name: object) -> str:
    # The name is the file's text: quoted with repr so control characters cannot shape the line.
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{article} {kind} {str(name)[:64]!r}"
