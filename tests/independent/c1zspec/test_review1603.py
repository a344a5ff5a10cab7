"""Guards the class "the schema checks read the file's SQL other than as SQLite tokenizes and loads it" (review r1603).

The opening refuses a file whose schema brings SQL of its own (`schema._schema_code`). Four ways it read the text
otherwise, each proved on the golden Go file with one table added:
- a string literal or a quoted name was matched by a group repeated per character (`'(?:[^']|'')*'`), and Python's
  regex engine keeps state per repeat: a 7 KB c1z whose extra table had one 1 MB default or quoted name took ~125 MB
  to open. The same shape read JSON strings in `gostrings` (a document too deep for Python's reader);
- the name after COLLATE was looked for 64 raw characters back from a string literal: `COLLATE /* c */ 'BINARY'`, a
  line comment or 60 spaces between them, and the plain default was refused;
- COLLATE needed whitespace after it: `COLLATE"NOCASE"` and the other quoted forms were accepted (SQLite reads them);
- a virtual table was found by `sql LIKE 'CREATE VIRTUAL TABLE%'`: a comment between the words hid one, and SQLite
  still loaded it (an extra fts5 table accepted; `v1_sync_runs` made an fts5 table read through it).
And, found beside them: a quoted name was searched as code (a column named `"check (a)"` or `"x collate nocase"` made
the file "not a c1z"), and a collation name was folded by Python's `upper`, not SQLite's ASCII-only one.
Memory is measured with tracemalloc (what Python allocates, whatever else the machine runs).
"""

from __future__ import annotations

import contextlib
import sqlite3
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.baton import gostrings
from connector.baton.c1z import schema
from connector.baton.c1z.errors import DamagedC1ZError
from connector.baton.c1z.reader import C1ZReader
from tests.c1z_fixtures import FIXTURE_DIR, decompressed_db
from tests.independent.c1z.hostile import envelope, run_inspect

GO_FILE = FIXTURE_DIR / "sync-in-progress.c1z"  # 79 resources
GO_RESOURCES = 79
LONG = 1_000_000
PEAK_LIMIT = 20_000_000  # the old patterns: ~125 MB for a 1 MB token; the new ones keep no state per character


def go_file_plus(out: Path, *statements: str, rewrite: tuple[str, str] | None = None) -> Path:
    """The golden Go file after `statements`; `rewrite` (name, sql): that object's schema text replaced afterwards."""
    with decompressed_db(GO_FILE) as db:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            for statement in statements:
                conn.execute(statement)
            conn.commit()
            if rewrite is not None:
                conn.execute("PRAGMA writable_schema=ON")
                conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", rewrite[::-1])
                conn.commit()
        out.write_bytes(envelope(db.read_bytes()))
    return out


def peak_bytes(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def resource_count(path: Path, tmp: Path) -> int:
    with C1ZReader(path, tmp) as reader:
        return sum(1 for _ in reader.resources())


LONG_TOKENS = {
    "string literal default": "a text default '{}'",
    "string literal default of quotes": "a text default '{}'",
    "double-quoted name": '"{}" text',
    "backtick name": "`{}` text",
    "bracketed name": "[{}] text",
    "block comment": "a text /* {} */",
    "block comment of stars": "a text /* {} */",
}


@pytest.mark.parametrize("shape", LONG_TOKENS, ids=list(LONG_TOKENS))
def test_one_long_token_in_an_extra_table_costs_no_hundreds_of_mb(shape: str, tmp_path: Path) -> None:
    body = "''" * (LONG // 2) if "quotes" in shape else "* " * (LONG // 2) if "stars" in shape else "a" * LONG
    path = go_file_plus(tmp_path / "big.c1z", f"CREATE TABLE extra ({LONG_TOKENS[shape].format(body)})")
    assert path.stat().st_size < 64_000

    peak = peak_bytes(lambda: resource_count(path, tmp_path) == GO_RESOURCES or pytest.fail("resources lost"))
    assert peak < PEAK_LIMIT, f"opening a {path.stat().st_size:,}-byte c1z peaked at {peak / 1e6:.0f} MB"


@pytest.mark.parametrize(
    "text",
    ["'" + "a" * LONG + "'", "'" + "''" * (LONG // 2) + "'", "x'" + "0" * LONG + "'", "1" * LONG],
    ids=["string", "string of quotes", "blob", "number"],
)
def test_a_long_default_literal_is_read_in_constant_memory(text: str) -> None:
    assert peak_bytes(lambda: assert_literal(text)) < PEAK_LIMIT


def assert_literal(text: str) -> None:
    assert schema._LITERAL.fullmatch(text)


@pytest.mark.parametrize(
    "body", ["a" * LONG, "\\n" * (LONG // 2), "\\u00e9" * (LONG // 6)], ids=["letters", "escapes", "unicode escapes"]
)
def test_a_long_string_in_json_too_deep_for_python_is_read_in_constant_memory(body: str) -> None:
    # Past ~1,000 levels Python's reader gives up and `_shallow`'s token loop reads the document.
    depth = 2000
    text = "[" * depth + '"' + body + '"' + "]" * depth
    peak = peak_bytes(lambda: gostrings.go_json_loads(text))
    assert peak < PEAK_LIMIT + 4 * len(text), f"peaked at {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("name", ['"NOCASE"', "'NOCASE'", "[NOCASE]", "`NOCASE`", "NOCASE", '"RTRIM"'])
@pytest.mark.parametrize(
    "gap", ["", " ", " /* c */ ", " -- c\n"], ids=["none", "space", "block comment", "line comment"]
)
def test_a_collation_is_refused_however_it_is_spaced(name: str, gap: str, tmp_path: Path) -> None:
    if not gap and name[0].isalpha():
        pytest.skip("COLLATENOCASE is one word")
    path = go_file_plus(tmp_path / "s.c1z", f"CREATE TABLE extra (a text COLLATE{gap}{name})")
    with pytest.raises(DamagedC1ZError, match="collation"):
        C1ZReader(path, tmp_path)


@pytest.mark.parametrize(
    "collation",
    [
        "\n" + " " * 60 + "'BINARY'",
        " /* the default */ 'BINARY'",
        " -- bytes\n 'binary'",
        '"BINARY"',
        "[binary]",
        "BINARY",
    ],
    ids=["indent", "block comment", "line comment", "quoted", "bracketed", "bare"],
)
def test_a_binary_collation_is_accepted_however_it_is_spaced(collation: str, tmp_path: Path) -> None:
    path = go_file_plus(tmp_path / "b.c1z", f"CREATE TABLE extra (a text COLLATE{collation}, b text default 'x')")
    assert resource_count(path, tmp_path) == GO_RESOURCES


def test_a_collation_name_that_only_python_folds_to_binary_is_refused() -> None:
    # SQLite compares collation names without ASCII case only: the dotless i (U+0131) is no I to it.
    assert not schema._is_binary("B\u0131NARY")
    assert schema._is_binary("binary")


def test_words_inside_names_and_literals_are_no_code(tmp_path: Path) -> None:
    path = go_file_plus(
        tmp_path / "w.c1z",
        "CREATE TABLE extra (my_collate text default 'collate nocase', \"x collate nocase\" text, collate_me text, "
        '[check (a)] text, `on conflict` text, "autoincrement" text)',
    )
    assert resource_count(path, tmp_path) == GO_RESOURCES


VIRTUAL_SQL = "CREATE VIRTUAL TABLE extra USING fts5(a)"


@pytest.mark.parametrize(
    "written",
    [VIRTUAL_SQL, "CREATE /* x */ VIRTUAL TABLE extra USING fts5(a)", "CREATE -- x\nVIRTUAL TABLE extra USING fts5(a)"],
    ids=["plain", "block comment", "line comment"],
)
def test_a_virtual_table_is_refused_however_its_text_is_written(written: str, tmp_path: Path) -> None:
    path = go_file_plus(tmp_path / "v.c1z", VIRTUAL_SQL, rewrite=("extra", written))
    with pytest.raises(DamagedC1ZError, match="virtual table 'extra'"):
        C1ZReader(path, tmp_path)
    assert run_inspect(path)[0] == 2


def test_sync_runs_made_a_virtual_table_are_refused(tmp_path: Path) -> None:
    with decompressed_db(GO_FILE) as db:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            cols = [r[1] for r in conn.execute("PRAGMA table_info(v1_sync_runs)")]
            runs = conn.execute(f"SELECT {','.join(cols)} FROM v1_sync_runs").fetchall()
            conn.execute("DROP TABLE v1_sync_runs")
            conn.execute(f"CREATE VIRTUAL TABLE v1_sync_runs USING fts5({','.join(cols)})")
            conn.executemany(f"INSERT INTO v1_sync_runs VALUES ({','.join('?' * len(cols))})", runs)
            conn.commit()
            conn.execute("PRAGMA writable_schema=ON")
            conn.execute(
                "UPDATE sqlite_master SET sql = replace(sql, 'CREATE VIRTUAL', 'CREATE /**/ VIRTUAL') "
                "WHERE name = 'v1_sync_runs'"
            )
            conn.commit()
        path = tmp_path / "fts.c1z"
        path.write_bytes(envelope(db.read_bytes()))
    with pytest.raises(DamagedC1ZError, match="virtual table 'v1_sync_runs'"):
        C1ZReader(path, tmp_path)


def test_the_text_of_a_schema_of_many_tokens_is_read_in_one_pass() -> None:
    # CPU stays linear in the text: a megabyte of collations, comments and literals, read once each.
    sql = "CREATE TABLE x (" + "a text COLLATE /**/ 'BINARY' default 'x' -- c\n, " * 20_000 + "z)"
    code, collations = schema._sql_code(sql)
    assert collations == ["BINARY"] * 20_000
    assert "BINARY" not in code
    assert "--" not in code
