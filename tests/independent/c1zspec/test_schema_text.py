"""Guards the class "the schema checks read the file's SQL text, comments and literals included, as SQL".

The opening refuses a file whose schema brings SQL of its own (a CHECK constraint, a conflict clause, a collation,
AUTOINCREMENT, a partial index of its own) by searching the text SQLite keeps in `sqlite_master`. That text is the
CREATE statement as written, comments included, and Go's own carries them: the newest golden file's `v1_grants` says
`-- 1 if grant should be processed during expansion.` (docs/spec/c1z-format.md §2.4: "DDL text does not have to match
Go's whitespace. No Go code compares schema text"). A comment that said "check (", "on conflict", "collate" or
"autoincrement", or an index whose column list carried a comment with "where", made a Go-written file "not a c1z
database": `inspect` exited 2 and a one-shot sync started over as if it were damaged. SQLite runs none of it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import pytest

from connector.baton.c1z.errors import DamagedC1ZError
from connector.baton.c1z.reader import C1ZReader
from connector.baton.c1z.store import C1ZStore
from tests.c1z_fixtures import FIXTURE_DIR, decompressed_db
from tests.independent.c1z.hostile import envelope, run_inspect

GO_FILE = FIXTURE_DIR / "sync-in-progress.c1z"  # 79 resources; its v1_grants DDL carries Go's comments
GO_COMMENT = "-- 1 if grant should be processed during expansion."


def go_file_with(out: Path, name: str, old: str, new: str) -> Path:
    """The golden Go file with the schema text of `name` changed from `old` to `new` (what SQLite runs unchanged)."""
    with decompressed_db(GO_FILE) as db:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (name,)).fetchone()
            assert old in sql
            conn.execute("PRAGMA writable_schema=ON")
            conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", (sql.replace(old, new), name))
            conn.commit()
        out.write_bytes(envelope(db.read_bytes()))
    return out


# Words of the checks, where SQLite reads them as no SQL at all.
WORDS_THAT_RUN_NOTHING = {
    "a comment saying check (": ("v1_grants", GO_COMMENT, "-- 1 if grant should be processed (check (it) on read)."),
    "a comment saying on conflict": (
        "v1_grants",
        GO_COMMENT,
        "-- 1 if the grant should be expanded; on conflict: recomputed.",
    ),
    "a comment saying collate": ("v1_grants", GO_COMMENT, "-- ids collate as bytes."),
    "a comment saying autoincrement": ("v1_grants", GO_COMMENT, "-- row ids are rowids, no autoincrement."),
    "a block comment saying check (": (
        "v1_sync_runs",
        "sync_token text not null,",
        "sync_token text not null, /* check (json) */",
    ),
    "an index's comment saying where": (
        "idx_grants_principal_id_v1",
        "principal_resource_id)",
        "principal_resource_id /* where grants are listed by principal */)",
    ),
}


@pytest.mark.parametrize("case", sorted(WORDS_THAT_RUN_NOTHING))
async def test_a_go_file_whose_schema_text_says_the_words_in_comments_is_read(case: str, tmp_path: Path) -> None:
    path = go_file_with(tmp_path / "go.c1z", *WORDS_THAT_RUN_NOTHING[case])
    with C1ZReader(path, tmp_path) as reader:
        assert sum(1 for _ in reader.resources()) == 79
    code, _, err = run_inspect(path)
    assert (code, err) == (0, ""), err
    store = await C1ZStore.open(path, tmp_path)
    try:
        assert store.from_file, "opened as the Go file it is, not started over as damaged"
    finally:
        await store.close()


def test_the_same_words_as_sql_are_still_refused(tmp_path: Path) -> None:
    """The control: outside a comment the words are SQL of the file's own, refused as before."""
    path = go_file_with(
        tmp_path / "check.c1z",
        "v1_grants",
        "needs_expansion integer not null default 0,",
        "needs_expansion integer not null default 0 check (needs_expansion in (0, 1)),",
    )
    with pytest.raises(DamagedC1ZError, match="CHECK constraint"):
        C1ZReader(path, tmp_path)


def test_a_schema_of_many_literals_is_read_in_linear_cpu(tmp_path: Path) -> None:
    """Telling a collation's quoted name from any other literal looks back a few characters, not to the start of the
    statement: from the start, each of a schema's literals cost a pass over all before it, and a file whose schema was
    its megabyte cap of them (`schema.MAX_SCHEMA_SQL_BYTES`) was minutes of CPU before it was refused."""
    literals = ",".join(["'a'"] * 32_000)  # an eighth of the cap
    with decompressed_db(GO_FILE) as db:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            conn.execute(f"CREATE TABLE extra (a text default 'x' collate binary, b text check (b in ({literals})))")
            conn.commit()
        path = tmp_path / "literals.c1z"
        path.write_bytes(envelope(db.read_bytes()))
    started = time.process_time()
    with pytest.raises(DamagedC1ZError, match="CHECK constraint"):
        C1ZReader(path, tmp_path)
    assert time.process_time() - started < 2.0
