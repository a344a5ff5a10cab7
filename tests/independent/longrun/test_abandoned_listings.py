"""Listings a failed sync left half-read. The Datadog client's `ListingGuard` remembers each unfinished walk of a
listing (its pages' fingerprints and its ids' hashes, to catch a repeated page and count the distinct items at the
end); a sync that fails mid-listing (a Datadog outage on page N, a cancelled task) never finishes its walk. Guards the
class "memory kept per failed sync": the sync's syncers forget its walks at its end (`test_review1605`), and what
unfinished walks hold together is bounded in bytes, not only in walks (4,096 of them, each up to 9 MB of hashes): past
the bound the least recently read walks are forgotten, never the page refused, and a walk read since keeps its
checks."""

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
        path="/api/v2/users",
        status=200,
    )


def _failed_syncs(guard: ListingGuard, count: int) -> None:
    """`count` syncs that read two pages of users and failed on the third, their walks never forgotten (as no reader
    leaves them now). None of their pages is refused for the bound."""
    for _ in range(count):
        _page(guard, 0, FIRST)
        _page(guard, 1, SECOND)


def _ids_held(guard: ListingGuard) -> int:
    return sum(len(walk.seen or ()) for walks in guard._listings.values() for walk in walks)


BOUND = 1024 * 1024
"""The guard's bound in these tests (the client's is `MAX_HELD_BYTES`, 32 MiB): 13 such failed syncs' walks."""


def test_walks_no_reader_forgot_stop_growing_in_bytes() -> None:
    """40 syncs failed on page 2 of a 10,000-user listing without forgetting their walks, then 20 more: the guard holds
    no more ids after the 20 than after the 40, and no more than its bound (counted only, it held 80 kB more per
    failed sync, up to 4,096 of them: 330 MB)."""
    guard = ListingGuard(held_bytes=BOUND)
    _failed_syncs(guard, 40)
    after_first = _ids_held(guard)
    _failed_syncs(guard, 20)
    assert _ids_held(guard) <= after_first
    assert after_first * 8 <= BOUND
    assert after_first >= 10 * len(FIRST + SECOND)  # the walks are kept up to the bound
    assert guard.held_bytes <= BOUND


def test_walks_no_reader_forgot_never_refuse_a_later_sync() -> None:
    """Walks left past the bound by readers that never forgot them (a reader's bug) do not refuse the next sync's
    pages: the least recently read go, and the new listing is read whole with its checks (review r1608: refusing
    instead, every later sync failed until a restart)."""
    guard = ListingGuard(held_bytes=BOUND)
    _failed_syncs(guard, 40)
    live = ("/api/v2/users", (("filter", "x"),))
    _page(guard, 0, FIRST, key=live)
    _page(guard, 1, SECOND, key=live)
    with pytest.raises(UnexpectedResponse, match="page 2 repeats page 0"):
        _page(guard, 2, FIRST, key=live)


def test_the_walk_a_sync_is_reading_keeps_its_checks_among_walks_left_behind() -> None:
    """A walk under way, read between walks failed syncs left behind past the bound: its page repeating an earlier one
    is still caught, the walks left behind being the least recently read."""
    guard = ListingGuard(held_bytes=BOUND)
    live = ("/api/v2/team/t1/memberships", ())
    _page(guard, 0, ["m0"], key=live)
    for number in range(1, 20):
        _failed_syncs(guard, 2)
        _page(guard, number, [f"m{number}"], key=live)
    with pytest.raises(UnexpectedResponse, match="page 20 repeats page 0"):
        _page(guard, 20, ["m0"], key=live)


def test_a_forgotten_walk_frees_its_room() -> None:
    """A reader forgetting its walk (by the serial its last page was given) gives back what the walk held."""
    guard = ListingGuard(held_bytes=BOUND)
    serials = []
    for _ in range(12):
        _page(guard, 0, FIRST)
        serials.append(_page(guard, 1, SECOND))
    assert guard.walks == 12
    for serial in serials:
        guard.forget(USERS, serial)
    assert (guard.walks, guard.held_bytes) == (0, 0)


def test_a_walk_is_forgotten_only_by_the_reader_of_its_last_page() -> None:
    """Two syncs reading one listing in step: one's page continues the other's walk (the latest at the page before).
    The serial each page gives is new, so the sync that then fails forgets only what it read last, never the walk the
    other goes on reading, whose repeated page is still caught (review r1608: a shared serial forgot it)."""
    guard = ListingGuard(held_bytes=BOUND)
    ids = [[f"u{p}-{i}" for i in range(3)] for p in range(4)]
    a0 = _page(guard, 0, ids[0])
    b0 = _page(guard, 0, ids[0])
    a1 = _page(guard, 1, ids[1])  # continues the latest walk at page 0: b's
    assert len({a0, b0, a1}) == 3
    guard.forget(USERS, b0)  # b's sync fails: it forgets the serial its last page gave
    _page(guard, 2, ids[2])
    with pytest.raises(UnexpectedResponse, match="page 3 repeats page 0"):
        _page(guard, 3, ids[0])


def test_one_walk_over_the_bound_is_still_checked_whole() -> None:
    """A walk holding more than the bound alone is kept: it is the one being read, and its distinct items are still
    counted against its total at its end."""
    guard = ListingGuard(held_bytes=10)
    _page(guard, 0, ["a", "b"], key="other", last=True)
    guard.check("k", number=0, size=2, total=4, ids=["x", "y"], next_number=1, path="/k", status=200)
    assert guard.walks == 1
    with pytest.raises(UnexpectedResponse, match="held 3 distinct item"):
        guard.check("k", number=1, size=2, total=4, ids=["x", "z"], next_number=None, path="/k", status=200)
