"""An unfinished sync whose rows were changed since it stopped is not resumed as if they were its own.

The sync token claims the pages its run stored: resumed over a file missing some of their rows (a tool, a hand-edit,
a salvage deleted them), the run never listed those pages again and was saved as complete without them, its grants
revoked to ConductorOne; resumed over rows added since, it was saved with them. The store records in each committed
token a tally of the rows of each table the token's pages put in the file (how many, the highest row id, the ids' sum, a
CRC-32 of the keys in id order, a sum of the objects' CRC-32s); a resume finding other rows starts a new sync, with a
warning naming the table. A count alone passed a deletion balanced by as many added rows; objects edited in place are
tests/baton/test_sync_resume_lies.py's.
"""

from __future__ import annotations

import json
import re
import sqlite3
import zlib
from pathlib import Path

import pytest
import structlog

from connector.baton import builders as b
from connector.baton.c1z import rows, tally
from connector.baton.c1z.reader import C1ZReader
from connector.baton.c1z.tally import STORED_ROWS_KEY
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import (
    Faults,
    GroupSyncer,
    InjectedFailure,
    Org,
    RoleSyncer,
    UserSyncer,
    expected_grant_ids,
    syncers,
)
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import database_of, edited

_UNFINISHED = "sync_id = (SELECT sync_id FROM v1_sync_runs WHERE ended_at IS NULL)"


async def _started_over(path: Path, tmp_path: Path) -> str:
    """Sync over `path`, whose unfinished run must not be resumed: the one warning's reason, after checking the file
    holds a new finished sync of the whole org."""
    org = Org()
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    assert not result.resumed
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert warning["event"] == "unfinished sync cannot be resumed; starting a new one"
    with C1ZReader(path, tmp_path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
        assert len(list(reader.resources("user"))) == org.users
    return str(warning["reason"])


# The columns each table's rows copy out of their objects, tallied after the key (NULL as \x01).
_COPIED = {
    "v1_resource_types": "",
    "v1_resources": ", resource_type_id, parent_resource_type_id, parent_resource_id",
    "v1_entitlements": ", resource_type_id, resource_id",
    "v1_grants": ", entitlement_id, resource_type_id, resource_id, principal_resource_type_id, principal_resource_id",
}


def _tally_of(conn: sqlite3.Connection, table: str) -> dict[str, int]:
    expansion = "expansion" if table == "v1_grants" else "NULL"
    found = conn.execute(
        f"SELECT id, data, {expansion}, external_id{_COPIED[table]} FROM {table} WHERE {_UNFINISHED} ORDER BY id"
    ).fetchall()
    ids = [row_id for row_id, *_ in found]
    columns = [column for _, _, _, *copied in found for column in copied]
    return {
        "rows": len(found),
        "last_id": max(ids, default=0),
        "id_sum": sum(ids),
        "columns_crc32": zlib.crc32(b"".join(("\x01" if c is None else c).encode() + b"\0" for c in columns)),
        # Each object's CRC-32, and each expansion's begun from its row id.
        "values_sum": sum(
            zlib.crc32(data) + (zlib.crc32(extra, row_id) if extra else 0) for row_id, data, extra, *_ in found
        )
        % (1 << 64),
    }


def _recorded(path: Path, tmp_path: Path) -> dict[str, dict[str, int]]:
    db = tmp_path / "look.db"
    db.write_bytes(database_of(path))
    with sqlite3.connect(db) as conn:
        (token,) = conn.execute("SELECT sync_token FROM v1_sync_runs WHERE ended_at IS NULL").fetchone()
        tallies = {
            table: _tally_of(conn, table)
            for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")
        }
    recorded: dict[str, dict[str, int]] = json.loads(token)[STORED_ROWS_KEY]
    assert recorded == tallies, "the token records exactly the rows committed with it"
    return recorded


DELETIONS = {
    "the last grants stored": (
        f"DELETE FROM v1_grants WHERE id IN (SELECT id FROM v1_grants WHERE {_UNFINISHED} ORDER BY id DESC LIMIT 3)",
        "v1_grants",
    ),
    "a side-loaded role grant": (
        f"DELETE FROM v1_grants WHERE id = (SELECT min(id) FROM v1_grants WHERE {_UNFINISHED})",
        "v1_grants",
    ),
    "a user of a finished listing": (
        f"DELETE FROM v1_resources WHERE id = (SELECT max(id) FROM v1_resources WHERE resource_type_id = 'user' "
        f"AND {_UNFINISHED})",
        "v1_resources",
    ),
    "every entitlement of a type": (
        f"DELETE FROM v1_entitlements WHERE resource_type_id = 'role' AND {_UNFINISHED}",
        "v1_entitlements",
    ),
}


@pytest.mark.parametrize("case", sorted(DELETIONS))
async def test_a_resume_over_deleted_rows_starts_a_new_sync_naming_what_is_missing(
    case: str, interrupted: Path, tmp_path: Path
) -> None:
    statement, table = DELETIONS[case]
    recorded = _recorded(interrupted, tmp_path)
    path = edited(interrupted, tmp_path / "resumed.c1z", statement)
    reason = await _started_over(path, tmp_path)
    said = re.match(
        rf"{table} holds (\d+) rows of the sync where its state records {recorded[table]['rows']} stored: rows were "
        "deleted since",
        reason,
    )
    assert said is not None, reason
    assert int(said[1]) < recorded[table]["rows"]


# A grant the org does not have, of a group and a user it has: valid in every way but that no page of the run stored it.
_PLANTED = rows.grant_row(
    b.grant(GroupSyncer(Org(), Faults()).group("g0"), "admin", b.resource_id("user", "u0005")), "", ""
)[:9]
_PLANT = (
    "INSERT INTO v1_grants ({id}resource_type_id, resource_id, entitlement_id, principal_resource_type_id, "
    "principal_resource_id, external_id, expansion, needs_expansion, data, sync_id, discovered_at) "
    "VALUES ({at}?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT sync_id FROM v1_sync_runs WHERE ended_at IS NULL), "
    "'2026-01-01 00:00:00')"
)
_FIRST_GRANT = f"(SELECT min(id) FROM v1_grants WHERE {_UNFINISHED})"
CHANGES = {
    "a grant deleted and another added": (
        (f"DELETE FROM v1_grants WHERE id = {_FIRST_GRANT}", _PLANT.format(id="", at="")),
        _PLANTED,
        "holds {rows} rows of the sync, as its state records, but not the ones its pages stored: rows were replaced",
    ),
    "a grant replaced by another under its row id": (
        (
            "CREATE TEMP TABLE gone AS SELECT " + _FIRST_GRANT + " AS id",
            f"DELETE FROM v1_grants WHERE id = {_FIRST_GRANT}",
            _PLANT.format(id="id, ", at="(SELECT id FROM gone), "),
        ),
        _PLANTED,
        "holds {rows} rows of the sync, as its state records, but not the ones its pages stored: rows were replaced",
    ),
    "a grant added": (
        (_PLANT.format(id="", at=""),),
        _PLANTED,
        "holds {more} rows of the sync where its state records {rows} stored: rows were added since",
    ),
}


@pytest.mark.parametrize("case", sorted(CHANGES))
async def test_a_resume_over_rows_added_or_replaced_starts_a_new_sync(
    case: str, interrupted: Path, tmp_path: Path
) -> None:
    """Counted alone, a deletion balanced by as many added rows passed, and so did an added row: the resumed run was
    saved as complete with a grant the org does not have."""
    statements, params, reason = CHANGES[case]
    recorded = _recorded(interrupted, tmp_path)["v1_grants"]
    path = edited(interrupted, tmp_path / "resumed.c1z", *statements, params=params)
    told = await _started_over(path, tmp_path)
    expected = "v1_grants " + reason.format(rows=recorded["rows"], more=recorded["rows"] + 1)
    assert told.startswith(expected), told


async def test_a_resume_over_its_rows_goes_on_and_the_finished_token_records_no_count(
    interrupted: Path, tmp_path: Path
) -> None:
    path = edited(interrupted, tmp_path / "resumed.c1z")
    org = Org()
    result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    assert result.resumed
    with C1ZReader(path, tmp_path) as reader:
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
        (run,) = reader.sync_runs()
        assert STORED_ROWS_KEY not in json.loads(run.sync_token)


@pytest.mark.parametrize(
    "record",
    [
        f"json_remove(sync_token, '$.{STORED_ROWS_KEY}')",
        # The last version's: counts alone.
        f'json_set(sync_token, \'$.{STORED_ROWS_KEY}\', json(\'{{"v1_resource_types":3,"v1_resources":33,'
        f'"v1_entitlements":17,"v1_grants":93}}\'))',
        f"json_remove(sync_token, '$.{STORED_ROWS_KEY}.v1_grants.columns_crc32')",
    ],
    ids=["none", "counts-only", "incomplete"],
)
async def test_a_token_that_records_no_usable_tally_starts_a_new_sync_without_tallying_its_rows(
    record: str, interrupted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written by the previous version (counts alone) or with its tally cut short: the rows its pages claim cannot be
    checked, so the run is not resumed (a new sync holds what an uninterrupted one would: issue 8 asks an old file to be
    "replaced or resumed"), even with the settings it records unchanged. Go's tokens record neither tally nor settings, and start over
    on the settings (tests/baton/test_sync_resume_settings.py, tests/baton/test_c1z_untrusted.py)."""
    path = edited(
        interrupted, tmp_path / "resumed.c1z", f"UPDATE v1_sync_runs SET sync_token = {record} WHERE ended_at IS NULL"
    )
    tallied: list[str] = []

    def of_file(conn: sqlite3.Connection, table: str, sync_id: str) -> tally.Tally:
        tallied.append(sync_id)
        return real_of_file(conn, table, sync_id)

    real_of_file = tally.of_file
    monkeypatch.setattr(tally, "of_file", of_file)
    with C1ZReader(path, tmp_path) as reader:
        (run,) = reader.sync_runs()
    reason = await _started_over(path, tmp_path)
    # Its rows are not read to be compared with a tally it does not record: a pass over each table for nothing.
    assert run.sync_id not in tallied
    assert reason == (
        "its state records no tally of the rows it stored (another version or SDK wrote it), so the pages it claims "
        "cannot be checked"
    )


class RepeatingUsers(UserSyncer):
    """Lists the first user again on its second page (a listing whose items moved between pages)."""

    renamed = False  # the second time under another name (the user was renamed between the pages)

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        page = await super().list_resources(parent, page_token)
        if page_token == str(self.page_size):
            again = self.user("u0000")
            if self.renamed:
                again.display_name = "User u0000, renamed"
            page.items.append(again)
        return page


class RenamedRepeatingUsers(RepeatingUsers):
    renamed = True


class RepeatingGroups(GroupSyncer):
    """Lists each group's first member again on its second grants page."""

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        page = await super().list_grants(resource, page_token)
        if page_token:
            members = self.org.group_members(int(resource.id.resource[1:]))
            page.items.append(b.grant(resource, "member", b.resource_id("user", members[0])))
        return page


async def test_a_resume_after_repeated_items_were_merged_goes_on(tmp_path: Path) -> None:
    """A listing that repeats an item stores it twice until the unique index is built, which merges the copies (at the
    first read of the resources, at the save of an unfinished run): the token committed before the merge counted both.
    The merge records the count again, and the run resumes."""
    org = Org()
    path = tmp_path / "s.c1z"

    def repeating(faults: Faults) -> list[UserSyncer | RoleSyncer | GroupSyncer]:
        return [RepeatingUsers(org, faults), RoleSyncer(org, faults), RepeatingGroups(org, faults)]

    with pytest.raises(InjectedFailure):
        await sync_to_file(repeating(Faults(fail_at_call=27)), path, options(concurrency=1), tmp_dir=tmp_path)
    _recorded(path, tmp_path)
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(repeating(Faults()), path, options(), tmp_dir=tmp_path)
    assert result.resumed, [e for e in events if e["log_level"] == "warning"]
    with C1ZReader(path, tmp_path) as reader:
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)


@pytest.mark.parametrize("users", [RepeatingUsers, RenamedRepeatingUsers], ids=["same", "renamed"])
async def test_a_run_resumed_and_stopped_again_records_the_rows_of_both_and_resumes_again(
    users: type[RepeatingUsers], tmp_path: Path
) -> None:
    """The resumed run upserts: a user listed again on a later page updates the row stored by the first run (it keeps
    its id and key, and takes the object listed last), so the page adds fewer rows than it holds and the tally takes
    the new ones from the file and the updated row's object in place of its old one. The token the second stop saves
    records exactly the rows of both runs, and the third run resumes."""
    org = Org()
    path = tmp_path / "s.c1z"

    def repeating(faults: Faults) -> list[UserSyncer | RoleSyncer | GroupSyncer]:
        return [users(org, faults), RoleSyncer(org, faults), RepeatingGroups(org, faults)]

    for stop_at in (2, 6):  # in the users listing, then past it
        with pytest.raises(InjectedFailure):
            await sync_to_file(repeating(Faults(fail_at_call=stop_at)), path, options(concurrency=1), tmp_dir=tmp_path)
        _recorded(path, tmp_path)
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(repeating(Faults()), path, options(), tmp_dir=tmp_path)
    assert result.resumed, [e for e in events if e["log_level"] == "warning"]
    with C1ZReader(path, tmp_path) as reader:
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
