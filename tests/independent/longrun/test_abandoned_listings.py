"""Listings a failed sync left half-read. The Datadog client's `ListingGuard` remembers each unfinished walk of a
listing (its pages' fingerprints and its ids' hashes, to catch a repeated page and count the distinct items at the
end); a sync that fails mid-listing (a Datadog outage on page N, a cancelled task) never finishes its walk, and the
next sync starts a walk of its own at page 0. Guards the class "memory kept per failed sync": what such walks hold
together is bounded in bytes, not only in walks (4,096 of them, each up to 9 MB of hashes)."""

from __future__ import annotations

import pytest

from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import ListingGuard

USERS = ("/api/v2/users", ())
# A failed sync's reading of the users listing, before its next page failed: pages of 5,000 ids here stand for 50
# Datadog pages of 100 each (what the guard holds is per id read, whichever pages carried them).
FIRST = [f"u{n:06d}" for n in range(5_000)]
SECOND = [f"u{n:06d}" for n in range(5_000, 10_000)]


def _page(guard: ListingGuard, number: int, ids: list[str], *, last: bool = False, key: object = USERS) -> None:
    guard.check(
        key,
        number=number,
        size=5_000,
        total=None,
        ids=ids,
        next_number=None if last else number + 1,
        method="GET",
        path="/api/v2/users",
        status=200,
    )


def _failed_syncs(guard: ListingGuard, count: int) -> None:
    for _ in range(count):
        _page(guard, 0, FIRST)
        _page(guard, 1, SECOND)  # page 2's fetch failed: the walk is never finished


def _ids_held(guard: ListingGuard) -> int:
    return sum(len(walk.seen or ()) for walks in guard._listings.values() for walk in walks)


BOUND = 1024 * 1024
"""The guard's bound in these tests (the client's is `MAX_HELD_BYTES`, 32 MiB): 13 such failed syncs' walks."""


def test_walks_failed_syncs_left_stop_growing_in_bytes() -> None:
    """40 syncs failed on page 2 of a 10,000-user listing, then 20 more: the guard holds no more ids after the 20 than
    after the 40, and no more than its bound (it held 80 kB more per failed sync, up to 4,096 of them: 330 MB, or
    1.6 GB for a 50,000-user org failing on its last page, bounded by the count of walks alone)."""
    guard = ListingGuard(held_bytes=BOUND)
    _failed_syncs(guard, 40)
    after_first = _ids_held(guard)
    _failed_syncs(guard, 20)
    assert _ids_held(guard) <= after_first
    assert after_first * 8 <= BOUND
    assert after_first >= 10 * len(FIRST + SECOND)  # the newest walks are kept, up to the bound
    assert guard.held_bytes <= BOUND


def test_the_walk_a_sync_is_reading_keeps_its_checks_among_abandoned_ones() -> None:
    """The oldest walks are the ones forgotten: a sync under way after many failed ones still has its walk, and its
    page repeating an earlier one is caught."""
    guard = ListingGuard(held_bytes=BOUND)
    _failed_syncs(guard, 10)
    live = ("/api/v2/team/t1/memberships", ())
    _page(guard, 0, ["m1"], key=live)
    _failed_syncs(guard, 10)  # as many as the bound holds, the walk under way among them
    with pytest.raises(UnexpectedResponse, match="page 1 repeats page 0"):
        _page(guard, 1, ["m1"], key=live)


def test_one_walk_over_the_bound_is_still_checked_whole() -> None:
    """A walk holding more than the bound alone is kept (the oldest others go first): it is the one being read, and
    its distinct items are still counted against its total at its end."""
    guard = ListingGuard(held_bytes=10)
    _page(guard, 0, ["a", "b"], key="other")
    guard.check("k", number=0, size=2, total=4, ids=["x", "y"], next_number=1, method="GET", path="/k", status=200)
    assert guard.walks == 1
    with pytest.raises(UnexpectedResponse, match="held 3 distinct item"):
        guard.check(
            "k", number=1, size=2, total=4, ids=["x", "z"], next_number=None, method="GET", path="/k", status=200
        )
