"""What an unfinished sync's file says of itself is checked before a resume believes it.

Each lie below is a file's bytes (a tool, a hand-edit, a newer version, a copy): the run either starts over, with a
warning that says why, or is resumed because what the file says is true. Never a traceback, never a file saved as
complete that an uninterrupted sync would not have written. The rows a token claims are checked by
tests/baton/test_sync_resume_missing_rows.py, the settings it records by tests/baton/test_sync_resume_settings.py.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog
from google.protobuf.message import Message

from connector.baton.c1z.reader import C1ZReader
from connector.baton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import database_of, edited

_UNFINISHED = "WHERE ended_at IS NULL"
_CANNOT = "unfinished sync cannot be resumed; starting a new one"
_DAMAGED = "existing c1z is damaged; starting a new sync instead of resuming"


async def _synced(path: Path, tmp_path: Path, org: Org | None = None) -> tuple[Any, list[MutableMapping[str, Any]]]:
    """Sync `org` into `path`; the result and the warnings logged. The file must end as one finished sync of it."""
    org = org or Org()
    with structlog.testing.capture_logs() as events:
        result = await sync_to_file(syncers(org, Faults()), path, options(), tmp_dir=tmp_path)
    with C1ZReader(path, tmp_path) as reader:
        (run,) = reader.sync_runs()
        assert (run.sync_id, run.finished) == (result.sync_id, True)
        assert {g.id for g in reader.grants()} == expected_grant_ids(org)
        assert len(list(reader.resources("user"))) == org.users
    return result, [e for e in events if e["log_level"] in ("warning", "error")]


# name: (SQL applied to the interrupted file, the warning's event, what it says: its reason or error, as a regex)
TOKEN_LIES = {
    "a token that is not JSON": (
        f"UPDATE v1_sync_runs SET sync_token = 'resume me' {_UNFINISHED}",
        _CANNOT,
        r"sync token is not JSON \(Expecting value at line 1, column 1\); the sync cannot be resumed",
    ),
    "a token holding a number of thousands of digits": (
        f"UPDATE v1_sync_runs SET sync_token = '{{\"version\": 1{'0' * 5000}}}' {_UNFINISHED}",
        _CANNOT,
        r"sync token holds a number of more than 4,300 digits; the sync cannot be resumed",
    ),
    "a token of a newer version": (
        f"UPDATE v1_sync_runs SET sync_token = json_set(sync_token, '$.version', 3) {_UNFINISHED}",
        _CANNOT,
        r"sync token is of version 3, newer than this connector reads; the sync cannot be resumed",
    ),
    "a token naming an action this version does not know": (
        "UPDATE v1_sync_runs SET sync_token = json_set(sync_token, '$.actions_map.' || "
        f"json_extract(sync_token, '$.action_order[0]') || '.operation', 'fetch-assets') {_UNFINISHED}",
        _CANNOT,
        r"action '\d{10}' has an operation a full sync does not run: 'fetch-assets'",
    ),
    "a token that is not text": (
        f"UPDATE v1_sync_runs SET sync_token = CAST(sync_token AS BLOB) {_UNFINISHED}",
        _DAMAGED,
        r".*: v1_sync_runs row 1 holds a value of the wrong type",
    ),
}


@pytest.mark.parametrize("case", sorted(TOKEN_LIES))
async def test_a_token_this_engine_cannot_read_starts_a_new_sync_saying_why(
    case: str, interrupted: Path, tmp_path: Path
) -> None:
    """A newer version's token (a rollback after an upgrade) or a damaged one: its plan cannot be followed faithfully,
    so a new sync starts; the warning names what was wrong in words, not a parser's ("Expecting value: line 1 column 1
    (char 0)" said nothing of a token), and names an unknown action's operation (a newer version's step)."""
    statement, event, said = TOKEN_LIES[case]
    path = edited(interrupted, tmp_path / "lying.c1z", statement)
    result, warnings = await _synced(path, tmp_path)
    assert not result.resumed
    (warning,) = warnings
    assert warning["event"] == event
    assert re.fullmatch(said, warning.get("reason") or warning["error"]), warning


@pytest.mark.parametrize("ended_at", ["started_at", "''"], ids=["a time", "empty text"])
async def test_a_run_whose_ended_at_is_set_is_finished_whatever_its_token_says(
    ended_at: str, interrupted: Path, tmp_path: Path
) -> None:
    """c1z-format.md §2.6: only a run with `ended_at IS NULL` is resumed; one whose `ended_at` is set (even to '') is
    finished, as Go reads it, though its token still holds the stack and tally only an unfinished run's has. A new sync
    replaces it, as it replaces any finished one: nothing to warn of."""
    path = edited(interrupted, tmp_path / "ended.c1z", f"UPDATE v1_sync_runs SET ended_at = {ended_at}")
    result, warnings = await _synced(path, tmp_path)
    assert not result.resumed
    assert warnings == []


_COPY_RUN = (
    "INSERT INTO v1_sync_runs (sync_id, started_at, ended_at, sync_token, sync_type, parent_sync_id, linked_sync_id, "
    "grants_backfilled) SELECT '2C7vWyzsv4IKRtV1Z7F6zC2wQbM', datetime(started_at, '{shift} seconds'), NULL, sync_token, "
    "sync_type, '', '', 1 FROM v1_sync_runs"
)


async def test_of_two_unfinished_runs_the_newer_one_is_checked_and_a_copied_token_starts_over(
    interrupted: Path, tmp_path: Path
) -> None:
    """§2.6 resumes the newest unfinished run. A second run started later that carries a copy of the first one's token
    holds none of the rows the token claims, not even the resource types its actions name: it is not resumed, and the
    new sync keeps neither run."""
    path = edited(interrupted, tmp_path / "two.c1z", _COPY_RUN.format(shift="+5"))
    result, warnings = await _synced(path, tmp_path)
    assert not result.resumed
    (warning,) = warnings
    assert warning["event"] == _CANNOT
    assert warning["sync_id"] == "2C7vWyzsv4IKRtV1Z7F6zC2wQbM"
    assert re.fullmatch(r"action '\d{10}' names a resource type this sync does not have", warning["reason"])


async def test_of_two_unfinished_runs_the_newer_one_is_resumed_and_the_other_dropped(
    interrupted: Path, tmp_path: Path
) -> None:
    path = edited(interrupted, tmp_path / "two.c1z", _COPY_RUN.format(shift="-5"))
    with C1ZReader(path, tmp_path) as reader:
        ours = max(reader.sync_runs(), key=lambda run: run.started_at).sync_id
    result, warnings = await _synced(path, tmp_path)
    assert (result.resumed, result.sync_id, warnings) == (True, ours, [])


async def test_a_file_named_after_another_sync_resumes_the_run_it_holds(interrupted: Path, tmp_path: Path) -> None:
    """Go's test files carry a sync id in their name (`sync.<id>.c1z`); nothing reads it. The run inside is the file's
    word on which sync it holds, and is checked as any other; the name is the operator's and stays."""
    path = tmp_path / "sync.2C7vWyzsv4IKRtV1Z7F6zC2wQbM.c1z"
    shutil.copyfile(interrupted, path)
    with C1ZReader(path, tmp_path) as reader:
        (run,) = reader.sync_runs()
    result, warnings = await _synced(path, tmp_path)
    assert (result.resumed, result.sync_id, warnings) == (True, run.sync_id, [])
    assert [p.name for p in tmp_path.glob("*.c1z")] == [path.name]  # noqa: ASYNC240 - a test's temp dir


async def test_a_file_replaced_by_another_orgs_finished_sync_is_replaced_by_a_new_one(tmp_path: Path) -> None:
    """The unfinished run is gone with the file it was in; another org's finished sync (same connector, same types) is
    what `--file` holds now. Nothing of it is resumed: a new sync starts and the saved file holds this org's sync
    alone (docs/c1z.md: the org is not recorded, so one `--file` per org; a finished sync is never continued)."""
    path = tmp_path / "sync.c1z"
    await _synced(path, tmp_path, Org(users=5, groups=2))
    result, warnings = await _synced(path, tmp_path)
    assert (result.resumed, warnings) == (False, [])


def _object_edited_in_place(interrupted: Path, out: Path, table: str, edit: Callable[[Any], None]) -> Path:
    """`interrupted` with the object of the unfinished sync's first row of `table` whose object `edit` changes (a user, a
    grant to a user) edited by it, under the same row id and key: still the object its key names."""
    messages: dict[str, type[Message]] = {"v1_resources": resource_pb2.Resource, "v1_grants": grant_pb2.Grant}
    where = "resource_type_id = 'user'" if table == "v1_resources" else "principal_resource_type_id = 'user'"
    with sqlite3.connect(":memory:") as look:
        look.deserialize(database_of(interrupted))
        row_id, data = look.execute(
            f"SELECT id, data FROM {table} WHERE {where} AND sync_id = (SELECT sync_id FROM v1_sync_runs "
            f"{_UNFINISHED}) ORDER BY id LIMIT 1"
        ).fetchone()
    changed = messages[table].FromString(data)
    edit(changed)
    return edited(
        interrupted,
        out,
        f"UPDATE {table} SET data = ? WHERE id = ?",
        params=(changed.SerializeToString(deterministic=True), row_id),
    )


def _rename(user: resource_pb2.Resource) -> None:
    user.display_name = "Planted Admin"


def _regrant(grant: grant_pb2.Grant) -> None:
    grant.principal.id.resource = "u9999"  # a user the org does not have, under the grant's own id and entitlement


@pytest.mark.parametrize(("table", "edit"), [("v1_resources", _rename), ("v1_grants", _regrant)], ids=["user", "grant"])
async def test_an_object_edited_in_place_under_its_row_id_and_key_starts_a_new_sync(
    table: str, edit: Callable[[Any], None], interrupted: Path, tmp_path: Path
) -> None:
    """An object edited in place (a tool, a hand-edit) keeps its row's id and key and still names them: the rows' count,
    ids and keys are the ones the token records, and the run was saved as complete with an object the org never had (a
    user under another name, a grant to someone else). The token's tally covers each row's values too: a new sync."""
    path = _object_edited_in_place(interrupted, tmp_path / "edited.c1z", table, edit)
    result, warnings = await _synced(path, tmp_path)
    assert not result.resumed
    (warning,) = warnings
    assert warning["event"] == _CANNOT
    assert re.fullmatch(
        rf"{table} holds \d+ rows of the sync, as its state records, but not the ones its pages stored: rows were "
        "replaced or changed since, and the sync would be saved with them",
        warning["reason"],
    ), warning
    with C1ZReader(path, tmp_path) as reader:
        assert "Planted Admin" not in {user.display_name for user in reader.resources("user")}
        assert "u9999" not in {grant.principal.id.resource for grant in reader.grants()}


_OF_THE_SYNC = f"sync_id = (SELECT sync_id FROM v1_sync_runs {_UNFINISHED})"
# A column a row copies out of its object, edited alone: readers find and join rows by it without decoding the object.
COLUMN_EDITS = {
    # Saved as resumed, the grant named a role the file does not hold and was dropped as dangling, though the org has it.
    "a grant's resource": (
        "v1_grants",
        f"UPDATE v1_grants SET resource_id = 'r-planted' WHERE id = (SELECT min(id) FROM v1_grants WHERE {_OF_THE_SYNC})",
    ),
    "a grant's principal": (
        "v1_grants",
        "UPDATE v1_grants SET principal_resource_id = 'u9999' "
        f"WHERE id = (SELECT min(id) FROM v1_grants WHERE {_OF_THE_SYNC})",
    ),
    "a user's parent": (
        "v1_resources",
        "UPDATE v1_resources SET parent_resource_type_id = 'team', parent_resource_id = 't-planted' "
        f"WHERE id = (SELECT min(id) FROM v1_resources WHERE resource_type_id = 'user' AND {_OF_THE_SYNC})",
    ),
    "an entitlement's resource": (
        "v1_entitlements",
        "UPDATE v1_entitlements SET resource_id = 'r-planted' "
        f"WHERE id = (SELECT min(id) FROM v1_entitlements WHERE {_OF_THE_SYNC})",
    ),
}


@pytest.mark.parametrize("case", sorted(COLUMN_EDITS))
async def test_a_column_copied_out_of_its_object_edited_alone_starts_a_new_sync(
    case: str, interrupted: Path, tmp_path: Path
) -> None:
    """The object still names its key, and the count, ids, keys and objects are the ones the token records; only a
    column the row copies out of its object differs. An upsert keeps such columns as first written, so they are not
    checked against the object: the token's tally covers them. A new sync, holding every grant of the org."""
    table, statement = COLUMN_EDITS[case]
    path = edited(interrupted, tmp_path / "edited.c1z", statement)
    result, warnings = await _synced(path, tmp_path)
    assert not result.resumed
    (warning,) = warnings
    assert warning["event"] == _CANNOT
    assert warning["reason"].startswith(f"{table} holds "), warning
    assert warning["reason"].endswith("rows were replaced or changed since, and the sync would be saved with them")
