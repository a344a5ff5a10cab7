"""`PagePrefetch`: the next page of a listing is on its way while the caller stores the current one, and no
page is ever requested that the caller would not have asked for itself."""

from __future__ import annotations

import asyncio

import pytest

from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import Page, PagePrefetch


class Listing:
    """Three pages (0, 1, 2); records every fetch and lets the test release each one."""

    def __init__(self, pages: int = 3, failing: int | None = None) -> None:
        self.pages = pages
        self.failing = failing
        self.fetched: list[int] = []
        self.gates: dict[int, asyncio.Event] = {}

    async def fetch(self, number: int) -> Page[str]:
        self.fetched.append(number)
        await self.gates.setdefault(number, asyncio.Event()).wait()
        if number == self.failing:
            raise UnexpectedResponse(method="GET", path="/x", status=200, messages=["broken page"])
        following = number + 1 if number + 1 < self.pages else None
        return Page(items=[f"item-{number}"], number=number, next_number=following, path="/x")

    def release(self, number: int) -> None:
        self.gates.setdefault(number, asyncio.Event()).set()


async def test_the_next_page_is_requested_as_soon_as_the_current_one_arrives() -> None:
    listing = Listing()
    pages = PagePrefetch(listing.fetch)
    listing.release(0)
    first = await pages.get(0)
    await asyncio.sleep(0)  # let the prefetch task start
    assert first.items == ["item-0"]
    assert listing.fetched == [0, 1]  # page 1 is on its way before the caller asks for it
    listing.release(1)
    listing.release(2)
    assert (await pages.get(1)).items == ["item-1"]
    last = await pages.get(2)
    assert last.next_number is None
    await asyncio.sleep(0)
    assert listing.fetched == [0, 1, 2]  # every page once, nothing past the end


async def test_a_page_other_than_the_prefetched_one_is_fetched_afresh() -> None:
    listing = Listing(pages=5)
    for n in range(5):
        listing.release(n)
    pages = PagePrefetch(listing.fetch)
    await pages.get(0)
    await asyncio.sleep(0)  # let the prefetch task start
    # A resumed sync asks for page 3: the prefetched page 1 is dropped, page 3 fetched, page 4 prefetched.
    assert (await pages.get(3)).items == ["item-3"]
    await asyncio.sleep(0)
    assert listing.fetched == [0, 1, 3, 4]


async def test_a_failed_prefetch_fails_the_get_that_wants_its_page() -> None:
    listing = Listing(failing=1)
    listing.release(0)
    listing.release(1)
    pages = PagePrefetch(listing.fetch)
    await pages.get(0)
    with pytest.raises(UnexpectedResponse, match="broken page"):
        await pages.get(1)


async def test_cancel_drops_the_page_fetched_ahead() -> None:
    listing = Listing()
    listing.release(0)
    pages = PagePrefetch(listing.fetch)
    await pages.get(0)
    await asyncio.sleep(0)
    pages.cancel()
    listing.release(1)
    listing.release(2)
    assert (await pages.get(1)).items == ["item-1"]  # fetched again: the cancelled one is gone
    assert listing.fetched == [0, 1, 1]
