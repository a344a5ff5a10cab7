"""An unfinished sync resumed from its c1z carries the rows it stored before it stopped into the finished file. The
resumed run reads back only the resources its pending listings need (the first suite and tests/baton/
test_c1z_untrusted.py damage those); its stored entitlements, grants and other resources were saved as they were.

A row whose object does not decode was saved into a sync reported finished (exit 0) that its own reader then refused
("cannot read v1_grants": `inspect`, the upload); a row holding another object than its key names (a user's row
holding another user) gave a finished sync listing one user twice and another not at all. Each is damage found as the
run resumes: a new sync starts in a new file, with the warning naming the file and the row, and the file ends whole.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
import structlog

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, InjectedFailure, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import edited, leftovers, run_inspect

_UNFINISHED = "sync_id = (SELECT sync_id FROM v1_sync_runs WHERE ended_at IS NULL)"
_FIRST = "id = (SELECT min(id) FROM {table} WHERE " + _UNFINISHED + "{more})"


_USER = " AND resource_type_id = 'user'"


def _first(table: str, more: str = "") -> str:
    return _FIRST.format(table=table, more=more)


_NOT_DECODED = "a stored object does not decode"
# name: (the SQL, what the warning's error says after the file's name)
DAMAGE: dict[str, tuple[str, str]] = {
    "a grant that does not decode": (f"UPDATE v1_grants SET data = x'ffff' WHERE {_first('v1_grants')}", _NOT_DECODED),
    "a grant's expansion that does not decode": (
        f"UPDATE v1_grants SET expansion = x'ffff' WHERE {_first('v1_grants')}",
        _NOT_DECODED,
    ),
    "an entitlement that does not decode": (
        f"UPDATE v1_entitlements SET data = x'ffff' WHERE {_first('v1_entitlements')}",
        _NOT_DECODED,
    ),
    "a user that does not decode": (
        f"UPDATE v1_resources SET data = x'ffff' WHERE {_first('v1_resources', _USER)}",
        _NOT_DECODED,
    ),
    "a grant under another grant's key": (
        f"UPDATE v1_grants SET external_id = 'role:r0:member:user:nobody' WHERE {_first('v1_grants')}",
        r"v1_grants row \d+ holds another grant than its key names",
    ),
    "an empty entitlement": (
        f"UPDATE v1_entitlements SET data = x'' WHERE {_first('v1_entitlements')}",
        r"v1_entitlements row \d+ holds another entitlement than its key names",
    ),
    "a user's row holding another user": (
        "UPDATE v1_resources SET data = (SELECT data FROM v1_resources WHERE resource_type_id = 'user' ORDER BY id DESC "
        f"LIMIT 1) WHERE {_first('v1_resources', _USER)}",
        r"v1_resources row \d+ holds another resource than its key names",
    ),
}


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """Unfinished syncs saved by a failure in the grants phase: early (call 19) and late (call 27)."""
    where = tmp_path_factory.mktemp("interrupted")
    out: dict[int, Path] = {}
    for call in (19, 27):
        path = where / f"at-{call}.c1z"
        with pytest.raises(InjectedFailure):
            asyncio.run(
                sync_to_file(syncers(Org(), Faults(fail_at_call=call)), path, options(concurrency=1), tmp_dir=where)
            )
        with C1ZReader(path, where) as reader:
            (run,) = reader.sync_runs()
            assert not run.finished
            assert reader.connection.execute("SELECT count(*) FROM v1_grants").fetchone()[0] > 0
        out[call] = path
    return out


@pytest.mark.parametrize("call", [19, 27])
@pytest.mark.parametrize("case", sorted(DAMAGE))
async def test_a_resumed_run_over_a_bad_stored_row_starts_over_and_ends_whole(
    case: str, call: int, interrupted: dict[int, Path], tmp_path: Path
) -> None:
    statement, said = DAMAGE[case]
    path = edited(interrupted[call], tmp_path / "resumed.c1z", statement)
    work = tmp_path / "work"
    work.mkdir()
    org = Org()
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=work)
    assert not result.resumed
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert warning["event"] == "existing c1z is damaged; starting a new sync instead of resuming"
    assert re.match(rf"{re.escape(str(path))}: {said}", warning["error"]), warning["error"]
    with C1ZReader(path, work) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
        users = [r.id.resource for r in reader.resources("user")]
        assert len(users) == len(set(users)) == org.users, "each user once"
    for listing in ("--grants", "--entitlements", "--resources=user"):
        code, _, err = run_inspect(path, listing)
        assert (code, err) == (0, ""), listing
    assert leftovers(work) == []


async def test_a_resumed_run_over_good_rows_is_still_resumed(interrupted: dict[int, Path], tmp_path: Path) -> None:
    path = edited(interrupted[27], tmp_path / "resumed.c1z")
    org = Org()
    result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    assert result.resumed
    with C1ZReader(path, tmp_path) as reader:
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
