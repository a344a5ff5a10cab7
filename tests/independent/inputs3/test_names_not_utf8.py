"""File and directory names that are not UTF-8, given where a setting takes a path (BATON_C1Z_TEMP_DIR, BATON_FILE).

A name on Linux is any bytes but NUL and `/`; Python reads the undecodable ones as lone surrogates (`\\udcff` for the
byte 0xff). Every reader of such a name works on the bytes: the sync runs, saves and can be inspected, and what is
written about the name (a log line, `config --json`) is valid JSON that a strict reader takes, with each byte shown
as `\\xff`, as `inspect --json` and every closing line show it.
"""

from __future__ import annotations

import os
from pathlib import Path

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options


def _not_utf8(parent: Path, name: bytes) -> Path:
    path = Path(os.fsdecode(os.fsencode(parent) + b"/" + name))
    path.mkdir()
    return path


async def test_a_sync_whose_temp_dir_is_named_in_no_utf8_is_saved_and_reads_whole(tmp_path: Path) -> None:
    """The compaction before the save named its copy to SQLite as text: UnicodeEncodeError once the whole sync was
    done, "unexpected error", exit 1, and the run's work lost."""
    temp_dir = _not_utf8(tmp_path, b"work\xff")
    out = tmp_path / "sync.c1z"
    org = Org()
    await sync_to_file(syncers(org, Faults()), out, options(), tmp_dir=temp_dir)
    with C1ZReader(out, temp_dir) as reader:
        assert {grant.id for grant in reader.grants(None, reader.default_sync_id())} == expected_grant_ids(org)
    assert list(temp_dir.iterdir()) == []  # no working file left in it


async def test_a_sync_file_named_in_no_utf8_is_saved_and_reads_whole(tmp_path: Path) -> None:
    directory = _not_utf8(tmp_path, b"out\xfe")
    out = Path(os.fsdecode(os.fsencode(directory) + b"/sync\xff.c1z"))
    org = Org()
    await sync_to_file(syncers(org, Faults()), out, options(), tmp_dir=tmp_path)
    with C1ZReader(out, tmp_path) as reader:
        assert {grant.id for grant in reader.grants(None, reader.default_sync_id())} == expected_grant_ids(org)
