"""An unfinished sync whose rows were deleted since it stopped is not resumed as if they were there.

The sync token claims the pages its run stored: resumed over a file missing some of their rows (a tool, a hand-edit,
a salvage deleted them), the run never listed those pages again and was saved as complete without them, its grants
revoked to ConductorOne. The store records in each committed token how many rows of each table the token's pages put
in the file; a resume finding fewer starts a new sync, with a warning naming the table and both counts.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest
import structlog

from connector.baton import builders as b
from connector.baton.c1z.reader import C1ZReader
from connector.baton.c1z.store import STORED_ROWS_KEY
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


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unfinished sync stopped in its grants phase, every resource listed."""
    where = tmp_path_factory.mktemp("interrupted")
    path = where / "s.c1z"
    with pytest.raises(InjectedFailure):
        asyncio.run(sync_to_file(syncers(Org(), Faults(fail_at_call=27)), path, options(concurrency=1), tmp_dir=where))
    return path


def _recorded(path: Path, tmp_path: Path) -> dict[str, int]:
    db = tmp_path / "look.db"
    db.write_bytes(database_of(path))
    with sqlite3.connect(db) as conn:
        (token,) = conn.execute("SELECT sync_token FROM v1_sync_runs WHERE ended_at IS NULL").fetchone()
        counts = {
            table: conn.execute(f"SELECT count(*) FROM {table} WHERE {_UNFINISHED}").fetchone()[0]
            for table in ("v1_resource_types", "v1_resources", "v1_entitlements", "v1_grants")
        }
    recorded: dict[str, int] = json.loads(token)[STORED_ROWS_KEY]
    assert recorded == counts, "the token records exactly the rows committed with it"
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
    org = Org()
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    assert not result.resumed
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert warning["event"] == "unfinished sync cannot be resumed; starting a new one"
    said = re.match(
        rf"{table} holds (\d+) rows of the sync where its state records {recorded[table]} stored", warning["reason"]
    )
    assert said is not None, warning["reason"]
    assert int(said[1]) < recorded[table]
    with C1ZReader(path, tmp_path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
        assert len(list(reader.resources("user"))) == org.users


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


async def test_a_token_that_records_no_count_is_resumed(interrupted: Path, tmp_path: Path) -> None:
    """Go's tokens and older writers' record none: nothing to compare, the resume goes on as before."""
    strip = (
        f"UPDATE v1_sync_runs SET sync_token = json_remove(sync_token, '$.{STORED_ROWS_KEY}') WHERE ended_at IS NULL"
    )
    path = edited(interrupted, tmp_path / "resumed.c1z", strip)
    org = Org()
    result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    assert result.resumed


class RepeatingUsers(UserSyncer):
    """Lists the first user again on its second page (a listing whose items moved between pages)."""

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        page = await super().list_resources(parent, page_token)
        if page_token == str(self.page_size):
            page.items.append(self.user("u0000"))
        return page


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
