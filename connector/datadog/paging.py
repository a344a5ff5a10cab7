"""The one paging helper for every Datadog list endpoint, and the bounds that keep a listing finite.

Every list in scope is page-number based (``page[size]`` + 0-based ``page[number]``); what differs is
how the response describes the position (docs/spec/datadog-api.md §2.3):

* users, roles, role users, API/app keys: ``meta.page.total_filtered_count`` (or ``total_count``);
* teams and memberships: ``meta.pagination`` with ``total``/``size``/``last_number``;
* On-Call schedules: ``meta.page`` with ``total``/``size``/``number``/``next_number``.

`next_page_number` turns any of them into "the next page to fetch, or None". It never asks for a page
it can tell is empty: it stops on the total when one is reported (unless a full page runs past it: then the total
is older than the page), otherwise on a short page; but never while another statement of the same answer says a page
follows (a later `last_number` or `meta.page.next_number`, an unfiltered listing's `total_count` not reached):
trusted alone, a total below the others ended the listing early and the items past it were reported gone. The
size used for "short" is the one the server reports when smaller than the one requested (Datadog is
known to cap some pages below the requested size).

A listing is untrusted input too, so it is bounded (issue 11 §4):

* a list that always reports its size (every one but schedules) without a usable total, a page with items
  past its own total, or more items than ``page[size]`` asked for is an `UnexpectedResponse`; so is an empty
  page before its own total is reached (retryable: ending there would drop the items the total says follow);
* `ListingGuard` remembers, per listing, the pages the first page's total implied: a listing may fetch at
  most that many pages plus one (items added meanwhile), and a page that repeats an earlier one of the listing (its
  items, in any order: a listing cycling through 2 or 3 pages) is an error; a list without a total stops at
  `MAX_PAGES`. A page past that budget which the list's own later, larger total still holds is the list growing
  while it was read (retryable, and resumable: growth loses nothing stored);
* a listing read from its first page must end with at least as many distinct items as its first total, and its
  total must not fall between two pages (both retryable, and the sync is not resumed). Pages are numbered, not
  cursored: an item repeated on the next page (one added before it meanwhile, or a peer's bug) hides one the count
  says exists, and an item deleted from a page already read moves the next page's first item onto it, unread.
  Either way the listing ended without an item it holds, and the sync would report that item gone;
* a removal of the guard's own client from a list (`ListingGuard.removing`) fails every walk of it that was between
  pages while the removal was under way, or whose first page was asked for before it ended: with an item added
  meanwhile neither check above sees the shift.
"""

from __future__ import annotations

import asyncio
import math
from array import array
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from connector.baton.jsontypes import a_json_type
from connector.datadog.errors import UnexpectedResponse

__all__ = [
    "MAX_PAGES",
    "PAGE_SIZE",
    "ListingGuard",
    "Page",
    "PageMeta",
    "PagePrefetch",
    "PendingPage",
    "next_page_number",
    "pages_for",
    "paginate",
    "parse_page_meta",
]

T = TypeVar("T")

# Datadog's documented maximum; always sent because server defaults vary (10 in the spec, 100 seen).
PAGE_SIZE = 100
# The ceiling for a listing whose size is unknown: a million objects of one kind is far beyond any org.
MAX_PAGES = 10_000
# A total above this is not a count Datadog would send; it is treated as absent (and a list that must
# have one then fails) rather than licensing an enormous walk.
_MAX_TOTAL = 100_000_000


@dataclass(frozen=True, slots=True)
class PageMeta:
    total: int | None = None
    size: int | None = None
    last_number: int | None = None
    # True when the server reported `next_number: null`, i.e. says there is no next page.
    no_next: bool = False
    # The page `meta.page.next_number` names (On-Call schedules'), when a number: the server saying a page follows.
    # Never read from `meta.pagination`, whose `next_number` names a page even on the last one (datadog-api.md §2.3B).
    next_number: int | None = None
    # `meta.page.total_count` when `total_filtered_count` is the total taken: the whole list's size, the same number for
    # a listing asked without a filter.
    unfiltered_total: int | None = None

    def says_more(self, *, number: int, size: int, count: int, filtered: bool) -> bool:
        """Whether another statement of the page's own meta than its total says a page follows page `number` (which
        held `count` items): its `last_number` is later, its `next_number` is later, or (a listing asked without a
        filter) its `total_count` is not reached yet. An honest answer's statements agree, so this costs an honest org
        nothing; trusted alone, a total below the others ended the listing there, and the items past it (a team's
        members, the org's users) were reported gone."""
        return (
            (self.last_number is not None and number < self.last_number)
            or (self.next_number is not None and number < self.next_number)
            or (not filtered and self.unfiltered_total is not None and number * size + count < self.unfiltered_total)
        )

    def claimed(self, *, size: int, filtered: bool) -> int | None:
        """The most items any statement of the page's meta says the list holds: its total, an unfiltered listing's
        `total_count`, the items up to its `last_number`'s page. What bounds a walk's pages (`ListingGuard.check`):
        bounded by the total alone, a first total pages below the others had its listing read on (`says_more`)
        into the page bound, and every sync failed as if the list grew, though nothing did (review r1701)."""
        stated = [self.total]
        if not filtered:
            stated.append(self.unfiltered_total)
        if self.last_number is not None:
            stated.append((self.last_number + 1) * size)
        known = [n for n in stated if n is not None]
        return max(known) if known else None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing plus where to go next (None once the listing is exhausted)."""

    items: list[T]
    number: int
    next_number: int | None
    total: int | None = None
    # The last page number this page's total implies (None without a total or on the last page): the pages a
    # `PagePrefetch` may request ahead.
    last_number: int | None = None
    # Raw JSON:API `included` resources; typed accessors live on the client.
    included: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)
    # The endpoint the page came from and the 2xx status it answered with, so errors found later (in `included`)
    # can name them.
    path: str = ""
    status: int = 200
    # The walk of the client's `ListingGuard` the page was read in, as (listing key, walk): a reader that stops before
    # the last page (or the sync that read it, at its end) hands it back to forget the walk
    # (`DatadogClient.stop_reading`). None for pages not read through a guard.
    walk: tuple[Hashable, int] | None = field(default=None, repr=False, compare=False)

    def refused(self, message: str) -> UnexpectedResponse:
        """The error of this page found wrong once read (an item of another owner, a role Datadog never sends), named by
        the page's number and the endpoint and status it answered from."""
        return _page_error(self.number, message, path=self.path, status=self.status)


def _count(value: Any) -> int | None:
    """A JSON integer usable as a count: not a bool, not negative, not absurd."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_TOTAL:
        return value
    return None


def parse_page_meta(meta: Any) -> PageMeta:
    if not isinstance(meta, Mapping):
        return PageMeta()
    page = meta.get("page")
    if isinstance(page, Mapping):
        total = _count(page.get("total_filtered_count"))
        unfiltered = _count(page.get("total_count")) if total is not None else None
        if total is None:
            total = _count(page.get("total_count"))
        if total is None:
            total = _count(page.get("total"))
        no_next = "next_number" in page and page.get("next_number") is None
        return PageMeta(
            total,
            _count(page.get("size")),
            _count(page.get("last_number")),
            no_next,
            _count(page.get("next_number")),
            unfiltered,
        )
    pagination = meta.get("pagination")
    if isinstance(pagination, Mapping):
        # offset_limit pagination (sent when no page parameters were given) reports `limit`, not `size`.
        size = _count(pagination.get("size"))
        if size is None:
            size = _count(pagination.get("limit"))
        # Teams keep a non-null next_number on the last page, so only last_number and total count.
        return PageMeta(_count(pagination.get("total")), size, _count(pagination.get("last_number")))
    return PageMeta()


def _unusable_total(meta: Any) -> str:
    """Where a list's total is missing or unusable, and what was found there: the on-call engineer reading "no usable
    total" could not tell a missing `meta` from a total sent as a string. Only called once the total failed."""
    if meta is None:
        return "meta (missing)"
    if not isinstance(meta, Mapping):
        return f"meta (expected an object, got {a_json_type(meta)})"
    if "page" not in meta and "pagination" not in meta:
        return "meta.page or meta.pagination (missing)"
    # The block `parse_page_meta` read: `page` when it is an object, else `pagination` (a `page` of another type or null
    # is passed over, and named only when there is no `pagination` to read instead).
    name = "page" if isinstance(meta.get("page"), Mapping) or "pagination" not in meta else "pagination"
    block = meta.get(name)
    if not isinstance(block, Mapping):
        return f"meta.{name} " + ("(missing)" if block is None else f"(expected an object, got {a_json_type(block)})")
    fields = ("total_filtered_count", "total_count", "total") if name == "page" else ("total",)
    field_name = next((f for f in fields if f in block), fields[0])
    value = block.get(field_name)
    if field_name not in block:
        return f"meta.{name}.{field_name} (missing)"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"meta.{name}.{field_name} (a number no list has: below 0 or over {_MAX_TOTAL:,})"
    return f"meta.{name}.{field_name} (expected a whole number, got {a_json_type(value)})"


def pages_for(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def _page_error(number: int, message: str, *, path: str, status: int, changed: bool = False) -> UnexpectedResponse:
    """What is wrong with page `number` of a listing. `changed`: the list changed while it was read, so the error is
    retryable (a later sync may read it whole) and not resumable (the pages stored may be the ones the change left
    short)."""
    return UnexpectedResponse(
        method="GET",
        path=path,
        status=status,
        messages=[f"page {number}: {message}"],
        retryable=changed,
        resumable=not changed,
    )


def next_page_number(
    *,
    number: int,
    requested_size: int,
    count: int,
    meta: Any,
    total_required: bool = False,
    path: str = "",
    status: int,
    max_pages: int = MAX_PAGES,
    filtered: bool = False,
) -> int | None:
    """The next page to fetch after page `number` held `count` items, or None; raises `UnexpectedResponse`
    when the page contradicts itself (see the module docstring). `filtered`: the listing was asked with a filter, so
    its `total_count` (the whole list's) is not its size."""

    def bad(message: str, *, changed: bool = False) -> UnexpectedResponse:
        return _page_error(number, message, path=path, status=status, changed=changed)

    if count > requested_size:
        raise bad(f"{count} items, more than the page[size] of {requested_size} asked for")
    info = parse_page_meta(meta)
    if info.total is None and total_required:
        raise bad(f"no usable meta total (this list always reports one): {_unusable_total(meta)}")
    if info.size and count > info.size:
        # The page contradicts its own size: every later page's place was computed at that size, and the listing
        # ended "no items, though the total says there are more", retryable, at every sync for ever. Asking again
        # cannot help.
        raise bad(f"{count} items, more than the page size of {info.size} it reports")
    size = min(info.size, requested_size) if info.size else requested_size
    if count == 0:
        if info.total is not None and number * size < info.total:
            # Ending here would finish the listing without the items its own total says follow, and the sync
            # would report them gone. (A short page goes on to the next: the total is trusted over the count.) A
            # list that changed between Datadog's count and its page can do this once, so a later sync may pass.
            raise bad(f"no items, though the list's own total of {info.total} says there are more", changed=True)
        return None
    if info.total is not None:
        if number * size >= info.total:
            raise bad(f"{count} items past the list's own total of {info.total}")
        # The total ends the listing, unless a full page runs past it: the total was counted before items were added
        # ahead of this page (a moment before the page was read), and the item they pushed onto the next page would
        # go unread. The next page (within the guard's "first total + 1" budget) says where the list really ends.
        overflows = count >= size and number * size + count > info.total
        following = None if number * size + count >= info.total and not overflows else number + 1
    elif info.no_next or (info.last_number is not None and number >= info.last_number):
        following = None
    else:
        following = None if count < size else number + 1
    if following is None and info.says_more(number=number, size=size, count=count, filtered=filtered):
        # The total (or, without one, a null `next_number` or a short page) ends the listing, but another statement of
        # the same answer says a page follows: the next page tells which one was wrong. Empty, the listing ends there
        # (one request, only for an answer that contradicts itself); holding items past the total, it is refused as
        # such: either way no item the answer says exists goes unread.
        following = number + 1
    if following is not None and following >= max_pages:
        raise bad(f"the listing did not end within {max_pages} pages")
    return following


_UNNAMED = hash("")

MAX_HELD_BYTES = 32 * 1024 * 1024
"""The most the unfinished walks of a `ListingGuard` hold together (`_held_by`): room for three walks of the longest
listing (`MAX_PAGES` pages of `PAGE_SIZE` items, 9 MB each) side by side, a periodic sync's and a task's."""


class RemovalStamp(NamedTuple):
    """When a listing's first page was asked for, as `ListingGuard.removing` counts: the latest removal's id then, and
    the ids of the removals under way then (`ListingGuard.removal_epoch`)."""

    latest: int
    under_way: frozenset[int]


_LANDED_REMEMBERED = 1024
"""The removals that ended a `ListingGuard` remembers for the walks whose first page was asked for before them."""
_PAGE_BYTES = 100
"""What a page read costs a walk (its fingerprint's entry in `_Listing.pages`: a dict slot and two ints), about."""
_ID_BYTES = 8
"""What an id read costs a walk that counts them (`_Listing.seen`: its hash, in an `array("q")`)."""


@dataclass(slots=True)
class _Listing:
    budget: int
    number: int
    # The hash of each page's set of ids -> that page's number: a page holding the very items of any earlier one is a
    # cycle (one int per page, at most `MAX_PAGES`), caught at its first repeat rather than after the page budget.
    pages: dict[int, int]
    total: int | None
    # The smallest total the listing reported (its first, as a falling total is an error), or None.
    floor: int | None
    # The hashes of the ids of every page read so far (8 bytes an item), or None when the listing was not read
    # from page 0 (a resumed sync): its distinct items cannot be counted then.
    seen: array[int] | None
    # Items without an id: each is one item (the engine drops and counts them), never a repeat.
    unnamed: int = 0
    # When it was last read, in the order of every walk the guard kept (`ListingGuard._order`).
    kept: int = 0
    # Which walk it is since its last page (a new one at every page): what the reader of that page names it by to
    # forget it (`ListingGuard.forget`).
    serial: int = 0
    # A removal of this guard's client from the list (`ListingGuard.removing`) may have landed while the walk read it:
    # under way while it was between pages, or under way or landed after its first page was asked for.
    removed: bool = False
    # The removals under way that may take an item from the list (by id; None: none): the walk fails at its next page
    # unless each ends having removed nothing first (a 404, a refusal).
    pending: set[int] | None = None


def _held_by(walk: _Listing) -> int:
    """What `walk` holds in memory, in bytes, about: its pages' fingerprints and its ids' hashes."""
    return len(walk.pages) * _PAGE_BYTES + (len(walk.seen) * _ID_BYTES if walk.seen is not None else 0)


class ListingGuard:
    """Per-listing memory across page fetches, shared by `paginate` walks and page-token syncers alike.

    A listing is keyed by endpoint and filters (not the page number). A page continues the walk of its key whose
    last page was the one before it (the latest such walk); page 0, or any page no walk is at (a resumed sync
    re-reading a page is normal, not a loop), starts a walk of its own. Several walks of one key go on side by side:
    the service's periodic sync and a task's sync share the client, and as one memory per key each sync's page
    restarted the other's walk, so neither's pages were counted, bounded or compared. Finished walks are forgotten,
    and so are the walks their readers stop (`forget`: a lookup that found its item, a sync that failed or was
    cancelled mid-listing, at its end), by the serial the walk's last page gave (`check`): a walk another reader's
    page continued since is that reader's to forget. What the unfinished walks hold together is bounded by
    `held_bytes`, and their number by `capacity`: past either, the least recently read are forgotten first (the walk
    just read never). A walk forgotten while still read loses its checks (its next page starts a walk of its own), but
    nothing else: only a hostile peer's listings (millions of ids read side by side) reach the bound, where refusing
    pages instead made any walk a reader failed to forget a refusal of every later sync until a restart.
    """

    def __init__(self, capacity: int = 4096, held_bytes: int = MAX_HELD_BYTES) -> None:
        self._capacity = capacity
        self._held_limit = held_bytes
        self._listings: dict[Hashable, list[_Listing]] = {}
        """The unfinished walks of each key, the least recently read first."""
        self._order: OrderedDict[int, Hashable] = OrderedDict()
        """Every unfinished walk (`_Listing.kept`) with its key, the least recently read first: the next forgotten."""
        self._kept = 0
        self._serials = 0
        self._held = 0
        """What the unfinished walks remembered hold together (`_held_by`), in bytes."""
        self._removals: dict[int, Callable[[Hashable], bool]] = {}
        """The removals of this guard's client under way, by id, each as the listing keys it may take an item from
        (`removing`): one entry per write in flight, gone when it ends."""
        self._landed: deque[tuple[int, Callable[[Hashable], bool]]] = deque(maxlen=_LANDED_REMEMBERED)
        """The latest removals that ended and may have removed something, by id: what a walk whose first page was
        asked for before one of them and checked after it ended is marked by (`check`'s `since`)."""
        self._landed_forgotten = 0
        """The highest id of a landed removal pushed out of `_landed`: a walk asked for before it is marked, unread."""
        self._removal_ids = 0

    @property
    def held_bytes(self) -> int:
        """What the unfinished walks remembered now hold together, in bytes (`_held_by`): at most the `held_bytes`
        given, or what the one walk last read holds when it alone holds more."""
        return self._held

    @property
    def walks(self) -> int:
        """How many unfinished walks are remembered now."""
        return len(self._order)

    def _take(self, key: Hashable, number: int) -> _Listing | None:
        """The latest walk of `key` whose last page is `number - 1`, taken out of the memory."""
        walks = self._listings.get(key)
        if not walks:
            return None
        for index in range(len(walks) - 1, -1, -1):
            if walks[index].number == number - 1:
                found = walks.pop(index)
                if not walks:
                    del self._listings[key]
                del self._order[found.kept]
                self._held -= _held_by(found)
                return found
        return None

    def _keep(self, key: Hashable, walk: _Listing) -> None:
        """Remember `walk`, unfinished, and forget the least recently read others past the bounds (see the class)."""
        # Bounded in bytes as well as in walks: counted only, 4,096 walks each holding its ids' hashes (up to
        # `MAX_PAGES` pages of 100: 9 MB) grew a daemon whose syncs kept failing mid-listing by every failure, to
        # 1.6 GB. Past the bound the least recently read go, not the page: refused, walks no reader forgot (a reader's
        # bug) refused every later sync's pages for good (review r1608).
        self._kept += 1
        walk.kept = self._kept
        self._listings.setdefault(key, []).append(walk)
        self._order[walk.kept] = key
        self._held += _held_by(walk)
        while len(self._order) > 1 and (len(self._order) > self._capacity or self._held > self._held_limit):
            _, oldest_key = self._order.popitem(last=False)
            walks = self._listings[oldest_key]
            self._held -= _held_by(walks.pop(0))  # a key's walks are in the order they were last read
            if not walks:
                del self._listings[oldest_key]

    @property
    def removal_epoch(self) -> RemovalStamp:
        """What a listing's first page is stamped with (`check`'s `since`), read before it is asked for: the latest
        removal's id, and the removals under way then (`removing`). A removal of its list begun after it, or under way
        at it, marks the walk once it landed; one that landed before it does not. (Stamped with the id before the
        earliest removal under way on any list, a slow revoke of another team marked every walk begun while it waited,
        whose list's own removal had landed before the walk began, review r1706.)"""
        return RemovalStamp(self._removal_ids, frozenset(self._removals))

    @contextmanager
    def removing(
        self, lists: Callable[[Hashable], bool], *, nothing_removed: Callable[[BaseException], bool] | None = None
    ) -> Iterator[None]:
        """A write of this guard's client that may take an item out of its place in the listings whose keys `lists`
        answers True for (a team member's or a key's deletion; a user's new name, in the lists sorted by it) is under
        way in the block: every walk of them that is between two pages meanwhile, or whose first page was asked for
        before the write ended, fails at its next page, as a listing that changed while it was read (retryable, not
        resumed). Alone, a removal makes the total fall, which `check` sees; with an item added meanwhile (the
        connector's own grant or issuance beside it, or anyone's) the total holds, and the first item of the next page,
        moved onto a page already read, was never read: the sync finished complete without a member who never left the
        team. A write that ends in an error `nothing_removed` answers True for (Datadog's refusal of it, its 404
        included: `errors.nothing_done`) releases the walks it held, which go on: an "already revoked" retried by
        ConductorOne failed every sync reading the team (review r1703). Still under way at a walk's next page, it
        fails the walk, which cannot know yet. A removal by another writer cannot be seen here; one of our own can."""
        self._removal_ids += 1
        removal = self._removal_ids
        self._removals[removal] = lists
        self._hold(lists, removal)
        removed = True
        try:
            yield
        except BaseException as exc:
            removed = nothing_removed is None or not nothing_removed(exc)
            raise
        finally:
            del self._removals[removal]
            for walk in self._walks_of(lists):
                if walk.pending is not None:
                    walk.pending.discard(removal)
                    if not walk.pending:
                        walk.pending = None
                # Landed: every walk of the list now, a walk begun while it was under way too.
                walk.removed = walk.removed or removed
            if removed:
                if len(self._landed) == self._landed.maxlen:
                    self._landed_forgotten = max(self._landed_forgotten, self._landed[0][0])
                self._landed.append((removal, lists))

    def _walks_of(self, lists: Callable[[Hashable], bool]) -> Iterator[_Listing]:
        """The unfinished walks of the listings `lists` answers True for."""
        for key, walks in self._listings.items():
            if lists(key):
                yield from walks

    def _hold(self, lists: Callable[[Hashable], bool], removal: int) -> None:
        """`removal` is under way: the walks of its lists fail at their next page unless it ends having removed nothing.
        A walk marked already needs no more (one bool, not a set of every removal that met it)."""
        for walk in self._walks_of(lists):
            if not walk.removed:
                if walk.pending is None:
                    walk.pending = set()
                walk.pending.add(removal)

    def _begun(self, key: Hashable, since: RemovalStamp | None) -> tuple[bool, set[int] | None]:
        """What a walk of `key` starting now is marked with (`removed`, `pending`): the removals of its list under way,
        and those that landed after its first page was asked for, or were under way then (`since`, the
        `removal_epoch` then; None: not known, those under way only)."""
        pending = {removal for removal, lists in self._removals.items() if lists(key)} or None
        removed = False
        if since is not None:
            latest, under_way = since
            remembered = {removal for removal, _ in self._landed}
            # One pushed out of the history that may have counted: any later than the stamp, or one under way at it
            # that has ended and is not remembered (only one that landed, which the history then lacks, can be out of
            # it; a removal under way at the stamp and still under way, or remembered, is not). Counted regardless of
            # list only past 1,024 removals landed during one first page: a slow removal of another list alone must
            # mark nothing (review r1707).
            forgotten = self._landed_forgotten > latest or any(
                removal <= self._landed_forgotten and removal not in self._removals and removal not in remembered
                for removal in under_way
            )
            removed = forgotten or any(
                (removal > latest or removal in under_way) and lists(key) for removal, lists in self._landed
            )
        return removed, pending

    def forget(self, key: Hashable, serial: int) -> None:
        """Its reader stopped walk `serial` of `key` (it found what it was looking for, or the sync reading it failed or
        was cancelled): the walk is dropped, as a finished one is; nothing when it is no longer remembered (finished,
        or forgotten past the bounds). Kept, it was never finished: one per lookup of a member past a large team's first page (every
        admin revoke), one per listing a failed sync was reading, until they pushed out the walks syncs were
        reading. By the serial its reader's last page gave, not its page: another sync reading the same listing at
        the same page keeps its walk, and so does one whose page continued this reader's walk since (it was given a
        serial of its own)."""
        walks = self._listings.get(key, [])
        for index, walk in enumerate(walks):
            if walk.serial == serial:
                del walks[index]
                if not walks:
                    del self._listings[key]
                del self._order[walk.kept]
                self._held -= _held_by(walk)
                return

    def check(
        self,
        key: Hashable,
        *,
        number: int,
        size: int,
        total: int | None,
        ids: Sequence[str],
        next_number: int | None,
        path: str,
        status: int,
        max_pages: int = MAX_PAGES,
        claimed: int | None = None,
        since: RemovalStamp | None = None,
    ) -> int:
        """Check page `number` of listing `key` against the walk it continues (see the class); the walk's serial, for
        `forget`: a new one at every page, so that only the reader of its last page forgets it. Kept, a serial two
        syncs reading in step shared (one's page continuing the other's walk) was forgotten at the end of the one that
        failed, the other's walk with it: its repeated page was no longer caught (review r1608). `since`: the
        `removal_epoch` read before page `number` was asked for (`removing`)."""
        # Of the ids in any order: hashed in order, a peer serving one page's items again in a new order each time
        # (rotated by one) was never a repeat, and walked to the page bound (10,000 pages of On-Call schedules). Items
        # without an id are each one item, never a repeat: a page of only those repeats nothing, and beside named ones
        # they are counted, not collapsed (as a set, the 99 of one page were the one of another).
        named = frozenset(ids).difference(("",))
        fingerprint = hash((named, len(ids) - len(named)) if "" in ids else named)
        # A page continues the latest walk at the page before it, not necessarily its own reader's: two readers of one
        # list at the same page (the periodic sync and a task's) take each other's walks, and a removal's mark went
        # with the walk, so the reader whose first page was served before the removal continued the other's unmarked
        # walk and missed the item moved onto a page it had read (review r1707). Any marked walk there marks it.
        marked_beside = any(
            (walk.removed or walk.pending) and walk.number == number - 1 for walk in self._listings.get(key, ())
        )
        known = self._take(key, number)

        def bad(message: str) -> UnexpectedResponse:
            return _page_error(number, message, path=path, status=status, changed=True)

        self._serials += 1
        if known is None:
            # `claimed`: the most items another statement of the page says the list holds, when above its total.
            bound = max(total, claimed) if total is not None and claimed is not None else total
            budget = min(pages_for(bound, size) + 1, max_pages) if bound is not None else max_pages
            seen = array("q") if number == 0 else None
            removed, pending = self._begun(key, since)
            known = _Listing(
                budget=budget,
                number=number,
                pages={},
                total=total,
                floor=total,
                seen=seen,
                serial=self._serials,
                removed=removed,
                pending=pending,
            )
        else:
            known.serial = self._serials
            if named and (earlier := known.pages.get(fingerprint)) is not None:
                raise UnexpectedResponse(
                    method="GET", path=path, status=status, messages=[f"page {number} repeats page {earlier}"]
                )
            if total is not None and known.total is not None and total < known.total:
                raise bad(
                    f"the list's total fell from {known.total} to {total} while it was read, so an item may have"
                    " moved onto a page already read"
                )
            if known.removed or known.pending or marked_beside:
                raise bad(
                    "this connector removed or moved an item of the list while it was read (a revoke, a deletion or a"
                    " rename beside the walk), so an item may have moved onto a page already read"
                )
            known.number, known.total = number, total
            if known.floor is None:
                known.floor = total
        known.pages.setdefault(fingerprint, number)
        if number >= known.budget:
            if total is not None and known.floor is not None and total > known.floor:
                # The page is within the list's own total, which grew past the bound while the list was read (an org
                # adding users by the hundred): Datadog's answers are right, the list changed. Retryable, as the other
                # changes are (a later sync may read it whole), and resumable: growth loses nothing already stored, and
                # a resumed sync reads the listing again from its first page, bounded by the total it then reports.
                raise UnexpectedResponse(
                    method="GET",
                    path=path,
                    status=status,
                    messages=[
                        f"page {number} is past the {known.budget - 1} page(s) the list's first total implied: the list"
                        f" grew from {known.floor} to {total} items while it was read"
                    ],
                    retryable=True,
                )
            raise UnexpectedResponse(
                method="GET",
                path=path,
                status=status,
                messages=[f"page {number} is past the {known.budget - 1} page(s) the list's first total implied"],
            )
        if known.seen is not None:
            # Every id's hash (the empty id's too, taken out of the count below): `map` keeps this in C.
            known.seen.extend(map(hash, ids))
            known.unnamed += ids.count("")
        if next_number is None:
            # Against the first total, not the last: items added while the list was read shift the ones after them
            # onto the next page (read twice there) and are missed themselves when added before the page being
            # read. Nothing the org held is lost that way (the next sync has the new ones), and a large org that
            # grows all day must not fail every sync for it; any fewer than the first total is an item lost.
            if known.seen is not None and known.floor is not None:
                hashes = set(known.seen)
                hashes.discard(_UNNAMED)
                distinct = len(hashes) + known.unnamed
                if distinct < known.floor:
                    raise bad(
                        f"the listing held {distinct} distinct item(s), fewer than its total of {known.floor}: items"
                        " were repeated or moved between pages while it was read"
                    )
            return known.serial
        self._keep(key, known)
        return known.serial


async def paginate(fetch: Callable[[int], Awaitable[Page[T]]]) -> AsyncIterator[Page[T]]:
    """Yield pages from the first until `next_number` says the listing is done.

    Termination is the guard's job (`next_page_number` and `ListingGuard` raise on a listing that does not
    end); this loop only refuses to go backwards.
    """
    number: int | None = 0
    while number is not None:
        page = await fetch(number)
        yield page
        if page.next_number is not None and page.next_number <= number:
            raise UnexpectedResponse(
                method="GET",
                path=page.path,
                status=page.status,
                messages=[f"next page {page.next_number} after page {number}"],
            )
        number = page.next_number


# A page's response, requested and parsed; calling it runs the listing's checks (in page order) and gives the page.
PendingPage = Callable[[], Page[T]]


class PagePrefetch(Generic[T]):
    """A token-paged listing that fetches the pages after N while the caller works on page N (issue 12).

    The sync engine asks for one page at a time and stores it before asking for the next, so without this the
    network and the CPU never overlap, and a listing costs one round trip per page. Once page N has arrived,
    the pages after it are requested at once, up to `window` of them in flight; the caller's next `get(N+1)`
    awaits its page. Beyond the next page, only pages the page's own total implies exist (`Page.last_number`)
    are requested, so the request count is unchanged: the engine asks for every such page. (Should the total
    shrink during the walk, pages requested past the new end are dropped: at most `window - 1` requests.)

    `fetch` returns the `Page`, or a `PendingPage` whose checks run only when its `get` comes: pages arrive in
    any order, but `ListingGuard` must see them in page order (duplicate and bound detection). A `get` of a
    page not requested ahead (a resumed or retried sync) drops the pages ahead and fetches what was asked. A
    fetch that fails keeps its error for the `get` that wants the page.
    """

    def __init__(self, fetch: Callable[[int], Awaitable[Page[T] | PendingPage[T]]], *, window: int = 1) -> None:
        if window < 1:
            raise ValueError("the prefetch window is at least one page")
        self._fetch = fetch
        self._window = window
        self._ahead: dict[int, asyncio.Task[Page[T] | PendingPage[T]]] = {}
        # Fetches cancelled but maybe not yet ended (a connection closing), wherever they were dropped: a page's own
        # fetch or check failing in `get`, pages past a shrunk total. `cancel` hands them all back, so the owner of
        # the sync waits for every one (dropped where they were cancelled, the sync's end found none, and the engine
        # raised with up to a window of them still running).
        self._ending: list[asyncio.Task[Page[T] | PendingPage[T]]] = []

    async def get(self, number: int) -> Page[T]:
        task = self._ahead.pop(number, None)
        try:
            if task is None:
                self.cancel()
                fetched = await self._fetch(number)
            else:
                fetched = await task
            page = fetched if isinstance(fetched, Page) else fetched()
        except BaseException:
            self.cancel()
            raise
        self._request_ahead(page)
        return page

    def _request_ahead(self, page: Page[T]) -> None:
        first = page.next_number
        if first is None or first <= page.number:
            self.cancel()
            return
        last = first if page.last_number is None else max(first, min(page.last_number, first + self._window - 1))
        dropped = [self._ahead.pop(n) for n in [n for n in self._ahead if not first <= n <= last]]
        self._stop(dropped)
        for number in range(first, last + 1):
            if number not in self._ahead:
                task = asyncio.ensure_future(self._fetch(number))
                # An abandoned prefetch (the sync stopped) must not log "exception was never retrieved".
                task.add_done_callback(_consume_error)
                self._ahead[number] = task

    def cancel(self) -> list[asyncio.Task[Page[T] | PendingPage[T]]]:
        """Drop the pages fetched ahead (the listing is abandoned); returns every fetch this prefetch cancelled that has
        not ended yet, these and any dropped before (a caller may wait for them to end)."""
        ahead, self._ahead = self._ahead, {}
        self._stop(ahead.values())
        return list(self._ending)

    def _stop(self, tasks: Iterable[asyncio.Task[Page[T] | PendingPage[T]]]) -> None:
        """Cancel `tasks`, kept until they have ended (those ended are let go: at most a window of them at once)."""
        for task in tasks:
            task.cancel()
            self._ending.append(task)
        self._ending = [task for task in self._ending if not task.done()]


def _consume_error(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()
