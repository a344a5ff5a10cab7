"""Guards the class "a damaged file's SQLite error that escapes `except sqlite3.Error`": when SQLite's message quotes
bytes of the file that are not UTF-8, the sqlite3 module raises the UnicodeDecodeError of decoding the message instead
of the error. One flipped bit in the schema's SQL (`UNIQUE INDEX` read as `UNIQUE\\xa3INDEX`) makes every statement
on the file fail so: the start-up check of a one-shot sync (the look at what a damaged file still names) and the store
opening it (the look for a finished sync to keep) ended as "unexpected error: UnicodeDecodeError", every run, and the
damaged file never started over; `inspect` named the codec's complaint, not the damage. Every reader of a damaged file
now catches `rows.SQLITE_ERRORS` and words the message with its stray bytes escaped."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
import structlog

from connector.baton.c1z.reader import C1ZReader, damaged_types_outside
from connector.baton.sync.to_file import output_file_problem, sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import database_of, envelope, good_c1z, leftovers, run_inspect

OURS = ("user", "group", "role")
_SQL = b"CREATE UNIQUE INDEX idx_entitlements_external_sync_v1"
_DAMAGE = (
    'damaged SQLite database: malformed database schema (idx_entitlements_external_sync_v1) - near "UNIQUE\\xa3INDEX"'
)


def _flipped(c1z: Path, out: Path) -> Path:
    """`c1z` with one byte of its schema's SQL no longer UTF-8."""
    db = database_of(c1z)
    assert db.count(_SQL) == 1
    out.write_bytes(envelope(db.replace(_SQL, _SQL.replace(b"UNIQUE INDEX", b"UNIQUE\xa3INDEX"))))
    return out


@pytest.fixture(scope="module", params=["finished", "unfinished"])
def damaged(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp(request.param)
    path = where / "sync.c1z"
    if request.param == "finished":
        asyncio.run(good_c1z(path, where))
    else:
        with pytest.raises(InjectedFailure):
            asyncio.run(sync_to_file(syncers(Org(), Faults(fail_at_call=19)), path, options(), tmp_dir=where))
    return _flipped(path, where / "damaged.c1z")


def test_inspect_names_the_damage_with_the_stray_byte_escaped(damaged: Path) -> None:
    code, out, err = run_inspect(damaged)
    assert (code, out) == (2, "")
    assert err.startswith(f"baton-datadog: inspect: {damaged}: {_DAMAGE}"), err
    assert err.count("\n") == 1


def test_the_start_up_check_accepts_our_damaged_file_for_the_sync_to_replace(damaged: Path, tmp_path: Path) -> None:
    assert damaged_types_outside(damaged, OURS, 6, tmp_path) == []
    assert output_file_problem(damaged, tmp_path, OURS) is None
    assert leftovers(tmp_path) == []


async def test_a_sync_into_it_starts_over_and_ends_whole(damaged: Path, tmp_path: Path) -> None:
    path = tmp_path / "sync.c1z"
    shutil.copy(damaged, path)
    work = tmp_path / "work"
    work.mkdir()
    org = Org()
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=work, known_types=OURS)
    assert not result.resumed
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert warning["event"] == "existing c1z is damaged; starting a new sync instead of resuming"
    assert warning["error"].startswith(f"{path}: {_DAMAGE}"), warning["error"]
    with C1ZReader(path, work) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
    assert leftovers(work) == []
