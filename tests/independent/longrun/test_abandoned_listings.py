"""Listings a failed sync left half-read. The Datadog client's `ListingGuard` remembers each unfinished walk of a
listing (its pages' fingerprints and its ids' hashes, to catch a repeated page and count the distinct items at the
end); a sync that fails mid-listing (a Datadog outage on page N, a cancelled task) never finishes its walk. Guards the
class "memory kept per failed sync": the sync's syncers forget its walks at its end (`test_review1605`), and what
unfinished walks hold together is bounded in bytes, not only in walks (4,096 of them, each up to 9 MB of hashes): the
page that would pass the bound is refused, naming its listing, and the walks under way keep their checks."""

from __future__ import annotations

import pytest

from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import ListingGuard

USERS = ("/api/v2/users", ())
# A failed sync's reading of the users listing, before its next page failed: pages of 5,000 ids here stand for 50
# Datadog pages of 100 each (what the guard holds is per id read, whichever pages carried them).
FIRST = [f"u{n:06d}" for n in range(5_000)]
SECOND = [f"u{n:06d}" for n in range(5_000, 10_000)]


def _page(guard: ListingGuard, number: int, ids: list[str], *, last: bool = False, key: object = USERS) -> int:
    return guard.check(
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


def _failed_syncs(guard: ListingGuard, count: int) -> int:
    """`count` syncs that read two pages of users and failed on the third, their walks never forgotten (as no reader
    leaves them now): how many of their pages were refused for the bound."""
    refusals = []
    for _ in range(count):
        for number, ids in ((0, FIRST), (1, SECOND)):
            try:
                _page(guard, number, ids)
            except UnexpectedResponse as exc:
                refusals.append(str(exc))
    assert all("GET /api/v2/users" in r and "would hold more than 1,048,576 bytes" in r for r in refusals), refusals
    return len(refusals)


def _ids_held(guard: ListingGuard) -> int:
    return sum(len(walk.seen or ()) for walks in guard._listings.values() for walk in walks)


BOUND = 1024 * 1024
"""The guard's bound in these tests (the client's is `MAX_HELD_BYTES`, 32 MiB): 13 such failed syncs' walks."""


def test_walks_no_reader_forgot_stop_growing_in_bytes() -> None:
    """40 syncs failed on page 2 of a 10,000-user listing without forgetting their walks, then 20 more: the guard holds
    no more ids after the 20 than after the 40, and no more than its bound (counted only, it held 80 kB more per
    failed sync, up to 4,096 of them: 330 MB); the pages past the bound are refused, naming their listing."""
    guard = ListingGuard(held_bytes=BOUND)
    assert _failed_syncs(guard, 40) > 0
    after_first = _ids_held(guard)
    assert _failed_syncs(guard, 20) > 0
    assert _ids_held(guard) <= after_first
    assert after_first * 8 <= BOUND
    assert after_first >= 10 * len(FIRST + SECOND)  # the walks are kept up to the bound
    assert guard.held_bytes <= BOUND


def test_the_walk_a_sync_is_reading_keeps_its_checks_among_walks_past_the_bound() -> None:
    """A walk under way, then walks beside it enough to pass the bound: its page repeating an earlier one is still
    caught. Pushing out the least recently read walk (as the bound first did) forgot it, and its page 1 started a walk
    of its own, checked against nothing."""
    guard = ListingGuard(held_bytes=BOUND)
    live = ("/api/v2/team/t1/memberships", ())
    _page(guard, 0, ["m1"], key=live)
    refused = _failed_syncs(guard, 20)  # more than the bound holds, the walk under way among them
    with pytest.raises(UnexpectedResponse, match="page 1 repeats page 0"):
        _page(guard, 1, ["m1"], key=live)
    assert refused > 0


def test_a_forgotten_walk_frees_its_room() -> None:
    """A reader forgetting its walk (by the serial its page was given) gives back what the walk held: a sync after it
    reads its own whole."""
    guard = ListingGuard(held_bytes=BOUND)
    serials = []
    for _ in range(13):
        _page(guard, 0, FIRST)
        serials.append(_page(guard, 1, SECOND))
    with pytest.raises(UnexpectedResponse, match="would hold more than"):
        _page(guard, 0, FIRST)
    for serial in serials:
        guard.forget(USERS, serial)
    assert (guard.walks, guard.held_bytes) == (0, 0)
    _page(guard, 0, FIRST)
    _page(guard, 1, SECOND)
    _page(guard, 2, ["last"], last=True)
    assert guard.walks == 0


def test_one_walk_over_the_bound_is_still_checked_whole() -> None:
    """A walk holding more than the bound alone is kept: it is the one being read, and its distinct items are still
    counted against its total at its end."""
    guard = ListingGuard(held_bytes=10)
    _page(guard, 0, ["a", "b"], key="other", last=True)
    guard.check("k", number=0, size=2, total=4, ids=["x", "y"], next_number=1, method="GET", path="/k", status=200)
    assert guard.walks == 1
    with pytest.raises(UnexpectedResponse, match="held 3 distinct item"):
        guard.check(
            "k", number=1, size=2, total=4, ids=["x", "z"], next_number=None, method="GET", path="/k", status=200
        )
