"""The one paging helper for every Datadog list endpoint.

Every list in scope is page-number based (``page[size]`` + 0-based ``page[number]``); what differs is
how the response describes the position:

* users, roles, role users, API/app keys: ``meta.page.total_filtered_count`` (or ``total_count``);
* teams and memberships: ``meta.pagination`` with ``total``/``size``/``last_number``;
* On-Call schedules: ``meta.page`` with ``total``/``size``/``number``/``next_number``.

`next_page_number` turns any of them into "the next page to fetch, or None". It never asks for a page
it can tell is empty: it stops on the total when one is reported, otherwise on a short page. The
size used for "short" is the one the server reports (Datadog is known to cap some pages below the
requested size), else the one requested.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

__all__ = ["PAGE_SIZE", "Page", "PageMeta", "PagingError", "next_page_number", "paginate", "parse_page_meta"]

T = TypeVar("T")

# Datadog's documented maximum; always sent because server defaults vary (10 in the spec, 100 seen).
PAGE_SIZE = 100


class PagingError(RuntimeError):
    """A listing did not terminate within the page budget."""


@dataclass(frozen=True, slots=True)
class PageMeta:
    total: int | None = None
    size: int | None = None
    last_number: int | None = None
    # True when the server reported `next_number: null`, i.e. says there is no next page.
    no_next: bool = False


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing plus where to go next (None once the listing is exhausted)."""

    items: list[T]
    number: int
    next_number: int | None
    total: int | None = None
    # Raw JSON:API `included` resources; typed accessors live on the client.
    included: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_page_meta(meta: Mapping[str, Any] | None) -> PageMeta:
    if not isinstance(meta, Mapping):
        return PageMeta()
    page = meta.get("page")
    if isinstance(page, Mapping):
        total = _int(page.get("total_filtered_count"))
        if total is None:
            total = _int(page.get("total_count"))
        if total is None:
            total = _int(page.get("total"))
        no_next = "next_number" in page and page.get("next_number") is None
        return PageMeta(total, _int(page.get("size")), _int(page.get("last_number")), no_next)
    pagination = meta.get("pagination")
    if isinstance(pagination, Mapping):
        # offset_limit pagination (sent when no page parameters were given) reports `limit`, not `size`.
        size = _int(pagination.get("size"))
        if size is None:
            size = _int(pagination.get("limit"))
        # Teams keep a non-null next_number on the last page, so only last_number and total count.
        return PageMeta(_int(pagination.get("total")), size, _int(pagination.get("last_number")))
    return PageMeta()


def next_page_number(*, number: int, requested_size: int, count: int, meta: Mapping[str, Any] | None) -> int | None:
    if count == 0:
        return None
    info = parse_page_meta(meta)
    size = info.size or requested_size
    if info.total is not None:
        return None if number * size + count >= info.total else number + 1
    if info.no_next or (info.last_number is not None and number >= info.last_number):
        return None
    return None if count < size else number + 1


async def paginate(
    fetch: Callable[[int], Awaitable[Page[T]]], *, start: int = 0, max_pages: int = 100_000
) -> AsyncIterator[Page[T]]:
    """Yield pages from `start` until `next_number` says the listing is done."""
    number: int | None = start
    fetched = 0
    while number is not None:
        if fetched >= max_pages:
            raise PagingError(f"listing did not end after {max_pages} pages")
        page = await fetch(number)
        fetched += 1
        yield page
        if page.next_number is not None and page.next_number <= number:
            raise PagingError(f"server sent page {page.next_number} after page {number}")
        number = page.next_number
