"""Review r1707 of `ListingGuard.removing`: the history's overflow counts only a removal that may have touched the walk
(a slow removal of another list still under way, or remembered, marks no walk of this one however many removals
landed meanwhile), and a removal's mark is not lost when two readers of one list at the same page continue each
other's walks (the page continues the latest walk at the page before it, not its own reader's)."""

from __future__ import annotations

import pytest

from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import _LANDED_REMEMBERED, ListingGuard
from tests.independent.meets.shared import guard_page, of_key, of_other


def _many_landed_elsewhere(guard: ListingGuard) -> None:
    """More removals of another list land than the guard's history remembers."""
    for _ in range(_LANDED_REMEMBERED + 1):
        with guard.removing(of_other):
            pass


def test_a_slow_removal_of_another_list_still_under_way_past_the_history_marks_no_walk() -> None:
    guard = ListingGuard()
    with guard.removing(of_other):  # slow, under way throughout
        _many_landed_elsewhere(guard)
        since = guard.removal_epoch
        guard_page(guard, 0, since=since)
        guard_page(guard, 1)


def test_a_slow_removal_of_another_list_that_landed_after_the_stamp_marks_no_walk() -> None:
    guard = ListingGuard()
    slow = guard.removing(of_other)
    slow.__enter__()
    _many_landed_elsewhere(guard)
    since = guard.removal_epoch
    slow.__exit__(None, None, None)  # landed, remembered: of another list
    guard_page(guard, 0, since=since)
    guard_page(guard, 1)


def test_a_marked_walk_is_not_continued_unmarked_through_another_readers_walk() -> None:
    """Reader A's first page was asked for before our removal landed (its walk is marked); reader B's after (its walk
    is not). A's second page continues the latest walk at page 0, B's: it must fail all the same, as A may have missed
    the item moved onto a page it read."""
    guard = ListingGuard()
    stamp_a = guard.removal_epoch
    with guard.removing(of_key):
        pass
    guard_page(guard, 0, since=stamp_a)  # A: marked
    guard_page(guard, 0, since=guard.removal_epoch)  # B: read after the removal, unmarked
    with pytest.raises(UnexpectedResponse, match="removed or moved an item of the list") as refused:
        guard_page(guard, 1)  # A's next page
    assert refused.value.retryable
