"""A connector's page tokens that go round: the engine walked a listing whose tokens cycle through two or more pages
(a peer's cursors A -> B -> C -> A) for ever, storing the same pages over themselves. Only a token equal to the one it
was given was refused (tests/baton/test_sync_engine.py). The sync engine owns "the same cursor seen twice is an
error" (issue 11 §4) for every connector, in every phase that pages: resources, a parent walk for children, and a
resource's grants. Each fake peer below stops answering after `CALLS` calls, so the old engine fails here at once
rather than hang the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.baton.c1z.reader import C1ZReader
from connector.baton.connector import Page
from connector.baton.errors import InternalError
from connector.baton.pb.c1.connector.v2 import grant_pb2, resource_pb2
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from tests.baton.fake_connector import Faults, GroupSyncer, Org, RoleSyncer, UserSyncer

CALLS = 60


class Runaway(AssertionError):
    """The engine kept asking for pages of a listing that goes round."""


def _cycle(period: int) -> dict[str, str]:
    """Tokens '' -> t1 -> ... -> t<period> -> t1: after the first page, `period` pages go round."""
    tokens = [f"t{i}" for i in range(1, period + 1)]
    following = {"": tokens[0]}
    following.update({t: tokens[(i + 1) % period] for i, t in enumerate(tokens)})
    return following


class CyclingGroups(GroupSyncer):
    """Groups whose listing's tokens go round; each page holds new groups (so no page repeats another's items)."""

    def __init__(self, period: int) -> None:
        super().__init__(Org(groups=0), Faults())
        self.following = _cycle(period)
        self.calls = 0

    async def list_resources(
        self, parent: resource_pb2.ResourceId | None, page_token: str
    ) -> Page[resource_pb2.Resource]:
        self.calls += 1
        if self.calls > CALLS:
            raise Runaway(f"{self.calls} pages of a listing with {len(self.following) - 1} distinct tokens")
        return Page([self.group(f"g{self.calls}")], self.following[page_token])

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        return Page([])


class CyclingGrants(GroupSyncer):
    """One group, whose grants' tokens go round."""

    def __init__(self, period: int) -> None:
        super().__init__(Org(groups=1), Faults())
        self.following = _cycle(period)
        self.calls = 0

    async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
        self.calls += 1
        if self.calls > CALLS:
            raise Runaway(f"{self.calls} grants pages of a listing with {len(self.following) - 1} distinct tokens")
        return Page([], self.following[page_token])


@pytest.mark.parametrize("period", [2, 3, 7])
async def test_resource_tokens_that_go_round_fail_the_sync_at_the_first_repeat(tmp_path: Path, period: int) -> None:
    groups = CyclingGroups(period)
    with pytest.raises(InternalError, match="a page token it had already returned in this listing") as raised:
        await sync_to_file([groups], tmp_path / "s.c1z", SyncOptions())
    assert "list-resources group" in str(raised.value)
    assert groups.calls == period + 1, "the first page, then each token once, and the repeat refused"
    with C1ZReader(tmp_path / "s.c1z") as reader:
        assert [run.finished for run in reader.sync_runs()] == [False]


@pytest.mark.parametrize("period", [2, 5])
async def test_grant_tokens_that_go_round_fail_the_sync_naming_the_resource(tmp_path: Path, period: int) -> None:
    groups = CyclingGrants(period)
    with pytest.raises(InternalError, match="a page token it had already returned in this listing") as raised:
        await sync_to_file([groups], tmp_path / "s.c1z", SyncOptions())
    assert "list-grants group:g0" in str(raised.value)
    assert groups.calls == period + 1


async def test_tokens_that_differ_every_page_are_no_cycle_and_the_listing_ends(tmp_path: Path) -> None:
    """The check remembers only this listing's tokens: every group's grants walk the same tokens '' -> a -> b -> ''."""

    class SameTokensEachGroup(GroupSyncer):
        async def list_grants(self, resource: resource_pb2.Resource, page_token: str) -> Page[grant_pb2.Grant]:
            following = {"": "a", "a": "b", "b": ""}[page_token]
            principal = f"u000{'ab'.index(page_token) + 1 if page_token else 0}"
            return Page([self._grant(resource, principal)], following)

        def _grant(self, resource: resource_pb2.Resource, uid: str) -> grant_pb2.Grant:
            from connector.baton import builders as b

            return b.grant(resource, "member", b.resource_id("user", uid))

    org = Org(groups=4)
    result = await sync_to_file(
        [UserSyncer(org, Faults()), RoleSyncer(org, Faults()), SameTokensEachGroup(org, Faults())],
        tmp_path / "s.c1z",
        SyncOptions(),
    )
    grants = result.stats["grants"]
    assert isinstance(grants, int)
    assert grants >= 4 * 3
