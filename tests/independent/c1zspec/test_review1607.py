"""A block comment closes where SQLite closes it, after a run of stars too; a collation name is compared as SQLite
compares it, in the reader itself (review r1607 of fix1602).

The tokenizer's comment took a run of stars whole, then could not give the last one back to close on `*/`: the token
ended before `**/`, and the words either side were no longer adjacent. `COLLATE/***/NOCASE`, `CHECK/***/(...)` and
`NOT NULL ON/***/CONFLICT IGNORE` (a grants table that silently stores none of its grants) were all accepted, where
SQLite reads and runs each of them.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from pathlib import Path

import pytest

from connector.baton.c1z import schema
from connector.baton.c1z.errors import DamagedC1ZError
from connector.baton.c1z.reader import C1ZReader
from tests.c1z_fixtures import decompressed_db
from tests.independent.c1z.hostile import envelope
from tests.independent.c1zspec.test_review1603 import GO_FILE, go_file_plus

COMMENTS = ["/**/", "/***/", "/* x **/", "/*/ */", "/* a * / b */", "/** x * y ***/", "-- c\n", " "]
CLAUSES = [
    ("a text COLLATE{}NOCASE", "collation"),
    ("a text CHECK{}(length(a) > 0)", "CHECK"),
    ("a text NOT NULL ON{}CONFLICT IGNORE", "conflict"),
]


@pytest.mark.parametrize("comment", COMMENTS)
@pytest.mark.parametrize(("column", "refusal"), CLAUSES)
def test_no_comment_between_two_words_hides_the_clause(column: str, refusal: str, comment: str, tmp_path: Path) -> None:
    sql = column.format(comment)
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        conn.execute(f"CREATE TABLE t ({sql})")  # SQLite reads the clause: the comment is one token's gap
    path = go_file_plus(tmp_path / "s.c1z", f"CREATE TABLE extra ({sql})")
    with pytest.raises(DamagedC1ZError, match=refusal):
        C1ZReader(path, tmp_path)


@pytest.mark.parametrize(
    ("text", "comment"),
    [
        ("/***/x", "/***/"),
        ("/* x **/y", "/* x **/"),
        ("/* x */ y */", "/* x */"),
        ("/* a * / */z", "/* a * / */"),
        ("/*/ */z", "/*/ */"),
        ("/* open **", "/* open **"),
    ],
)
def test_a_comment_ends_at_the_first_star_slash(text: str, comment: str) -> None:
    found = re.match(schema._BLOCK_COMMENT, text)
    assert found is not None
    assert found.group() == comment


def test_the_grants_table_ignoring_null_expansions_behind_stars_is_refused(tmp_path: Path) -> None:
    with decompressed_db(GO_FILE) as db:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'v1_grants'").fetchone()[0]
            hostile = sql.replace("expansion blob,", "expansion blob NOT NULL ON/***/CONFLICT IGNORE,")
            assert hostile != sql
            conn.execute("PRAGMA writable_schema=ON")
            conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = 'v1_grants'", (hostile,))
            conn.commit()
        path = tmp_path / "g.c1z"
        path.write_bytes(envelope(db.read_bytes()))
    with pytest.raises(DamagedC1ZError, match="conflict"):
        C1ZReader(path, tmp_path)


def test_a_collation_only_python_folds_to_binary_is_refused_by_the_reader(tmp_path: Path) -> None:
    """The dotless i (U+0131) is an I to Python's upper(), not to SQLite: such a name is a collation of the file's own."""
    path = go_file_plus(
        tmp_path / "c.c1z",
        "CREATE TABLE extra (a text)",
        rewrite=("extra", 'CREATE TABLE extra (a text COLLATE "B\u0131NARY")'),
    )
    with pytest.raises(DamagedC1ZError):
        C1ZReader(path, tmp_path)
