"""Guards the class "a sync's skip options not held by the state of every run that writes a c1z".

The options `skip_grants` and `skip_entitlements_and_grants` (a task's fields, `--skip-grants`,
`--skip-entitlements-and-grants`) are the token's own flags (docs/spec/c1z-format.md §2.7, `should_skip_grants`,
`should_skip_entitlements_and_grants`), and Go's InitOp sets them for every sync, a targeted one included, before
it pushes the targets. Two runs lost them:

* a targeted sync (`--sync-resources`, a task naming `targeted_sync_resources`) started from a state without them:
  told to skip grants (or entitlements and grants) it listed and stored the targets' grants and entitlements all the
  same, the connector asked for each;
* a finished sync's token: Go's last checkpoint clears only the stack and the entitlement graph (§5.4: "A forced
  checkpoint clears the stack and graph"), so its token still says what the sync left out. Ours dropped the flags: a
  sync run with `skip_grants` was saved with `supports_diff = 1`, no grants, and nothing saying they were not listed.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from connector.baton import builders as b
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, Org, syncers
from tests.c1z_fixtures import decompressed_db

TARGET = b.resource_id("group", "g1")
SKIPS = {
    "skip_grants": ({"skip_grants": True}, {"should_skip_grants": True}),
    "skip_entitlements_and_grants": (
        {"skip_entitlements_and_grants": True},
        {"should_skip_entitlements_and_grants": True},
    ),
    "nothing skipped": ({}, {}),
}


def runs_of(path: Path) -> dict[str, tuple[str, dict[str, object], int, int]]:
    """Each run as {sync type: (sync id, token, entitlements, grants)}."""
    with decompressed_db(path) as db, sqlite3.connect(db) as conn:
        return {
            sync_type: (
                sync_id,
                json.loads(token),
                conn.execute("SELECT count(*) FROM v1_entitlements WHERE sync_id = ?", (sync_id,)).fetchone()[0],
                conn.execute("SELECT count(*) FROM v1_grants WHERE sync_id = ?", (sync_id,)).fetchone()[0],
            )
            for sync_id, sync_type, token in conn.execute("SELECT sync_id, sync_type, sync_token FROM v1_sync_runs")
        }


def flags(token: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in token.items() if key.startswith("should_skip")}


@pytest.mark.parametrize("case", sorted(SKIPS))
async def test_a_targeted_sync_skips_what_it_is_told_to_and_its_token_says_so(case: str, tmp_path: Path) -> None:
    options, token_flags = SKIPS[case]
    path = tmp_path / "sync.c1z"
    org = Org()
    await sync_to_file(syncers(org, Faults()), path)
    faults = Faults()
    await sync_to_file(syncers(org, faults), path, SyncOptions(targeted_resources=[TARGET], **options))  # type: ignore[arg-type]
    _, token, entitlements, grants = runs_of(path)["partial"]
    members = len(org.group_members(1)) + 1  # its members and its admin
    expected = {
        "skip_grants": (2, 0, 1),  # the target's lookup only: no grants listing
        "skip_entitlements_and_grants": (0, 0, 1),
        "nothing skipped": (2, members, 4),  # the lookup and three pages of its grants (4 a page)
    }[case]
    assert (entitlements, grants, faults.calls) == expected
    assert flags(token) == token_flags


@pytest.mark.parametrize("case", sorted(SKIPS))
async def test_a_finished_full_sync_keeps_its_skip_flags_in_its_token(case: str, tmp_path: Path) -> None:
    options, token_flags = SKIPS[case]
    path = tmp_path / "sync.c1z"
    await sync_to_file(syncers(Org(), Faults()), path, SyncOptions(**options))  # type: ignore[arg-type]
    (run,) = runs_of(path).values()
    _, token, _, grants = run
    assert flags(token) == token_flags
    assert "actions_map" not in token, "finished: an empty stack (§2.7)"
    assert token["version"] == 1
    assert (grants == 0) == bool(token_flags)
