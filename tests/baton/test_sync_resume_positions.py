"""A resumed sync restarts a listing that was in progress from its first page when its syncer's page tokens are
positions (`PositionalPageTokens`): items that moved across the pages between the two runs are read, not skipped.
A syncer that does not say so (a cursor) is resumed at its saved token, as Go resumes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from connector.baton.c1z.reader import C1ZReader
from connector.baton.connector import Page
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, GroupSyncer, InjectedFailure, Org, RoleSyncer, UserSyncer


@dataclass
class ShrunkOrg(Org):
    """The org with its first users deleted: every later user moves up by as many positions."""

    deleted: int = 0

    def user_ids(self) -> list[str]:
        return [f"u{i:04d}" for i in range(self.deleted, self.users)]


class CursorUsers(UserSyncer):
    """Records the page tokens it is asked for."""

    asked: list[str]

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        self.asked.append(page_token)
        return await super().list_resources(parent, page_token)


class PositionalUsers(CursorUsers):
    """The fake's user tokens are offsets into the list: positions."""

    def page_tokens_are_positions(self) -> bool:
        return True


def syncers(org: Org, faults: Faults, users: CursorUsers) -> list[UserSyncer | RoleSyncer | GroupSyncer]:
    return [users, RoleSyncer(org, faults), GroupSyncer(org, faults)]


@pytest.mark.parametrize("kind", [PositionalUsers, CursorUsers], ids=["positions", "cursors"])
async def test_a_listing_in_progress_restarts_only_when_its_tokens_are_positions(
    tmp_path: Path, kind: type[CursorUsers]
) -> None:
    org = ShrunkOrg()
    path = tmp_path / "sync.c1z"
    # Calls 1 and 2 store the first two users pages (offsets 0 and 5); the third fails: the token says offset 10.
    faults = Faults(fail_at_call=3)
    first = kind(org, faults)
    first.asked = []
    with pytest.raises(InjectedFailure):
        await sync_to_file(syncers(org, faults, first), path, SyncOptions(concurrency=1))
    org.deleted = 3  # u0000..u0002 deleted between the runs: u0010..u0012 move onto the pages already read
    faults = Faults()
    users = kind(org, faults)
    users.asked = []
    result = await sync_to_file(syncers(org, faults, users), path, SyncOptions(concurrency=1))
    assert result.resumed
    with C1ZReader(path) as reader:
        stored = {r.id.resource for r in reader.resources("user")}
    if kind is PositionalUsers:
        assert users.asked[0] == ""
        assert set(org.user_ids()) <= stored
    else:  # a cursor is resumed where it stopped, as Go resumes: no page is read twice
        assert users.asked[0] == "10"
