"""Builders of hostile c1z files, and one helper per entry point that reads one.

Every file is made here from a good c1z that the sync engine wrote (`good_c1z`), so each case differs from a file
the product accepts by the one thing it names. The entry points: the reader API (`C1ZReader`), `inspect`, and a
one-shot sync whose `--file` already exists (`sync_to_file`, which opens it through the store). Service mode's sync
task never opens an existing c1z: it syncs into a new file in a private working directory
(connector/baton/tasks/full_sync.py), so it has no hostile input of this kind.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sqlite3
from pathlib import Path

import zstandard

from connector.baton.sync.to_file import sync_to_file
from connector.daemon import inspect
from tests.baton.fake_connector import Faults, Org, syncers
from tests.baton.test_sync_engine import options

MAGIC = b"C1ZF\x00"


def frame(db: bytes, *, content_size: bool = True, checksum: bool = True) -> bytes:
    return zstandard.ZstdCompressor(level=1, write_content_size=content_size, write_checksum=checksum).compress(db)


def envelope(db: bytes, **flags: bool) -> bytes:
    return MAGIC + frame(db, **flags)


def database_of(c1z: Path) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(c1z.read_bytes()[len(MAGIC) :])


async def good_c1z(path: Path, tmp: Path, org: Org | None = None) -> Path:
    """A c1z of one finished sync of the fake connector's org, as the product writes it."""
    await sync_to_file(syncers(org or Org(), Faults()), path, options(), tmp_dir=tmp)
    return path


def edited(c1z: Path, out: Path, *statements: str, params: tuple[object, ...] = ()) -> Path:
    """`c1z` with SQL applied to its database (the last statement gets `params`), written to `out` as a c1z."""
    db = out.with_suffix(".editing")
    db.write_bytes(database_of(c1z))
    with contextlib.closing(sqlite3.connect(db)) as conn:
        for n, sql in enumerate(statements):
            conn.execute(sql, params if n == len(statements) - 1 else ())
        conn.commit()
    out.write_bytes(envelope(db.read_bytes()))
    db.unlink()
    return out


def run_inspect(path: Path, *flags: str) -> tuple[int, str, str]:
    """`baton-datadog inspect PATH --json FLAGS` in process: (exit code, stdout, stderr)."""
    parser = argparse.ArgumentParser()
    inspect.add_arguments(parser)
    args = parser.parse_args([str(path), "--json", *flags])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        code = inspect.run(args, out=out)
    return code, out.getvalue(), err.getvalue()


def leftovers(directory: Path, *expected: Path) -> list[str]:
    """Names in `directory` other than `expected`: working files or temp files a run left behind."""
    keep = {p.name for p in expected}
    return sorted(p.name for p in directory.iterdir() if p.name not in keep)
