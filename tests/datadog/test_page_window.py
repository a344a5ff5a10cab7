"""`PagePrefetch` with a window: a listing whose first page gives its total has the following pages in flight
at once, yet every page is requested exactly once, nothing past the total is asked for, and the listing
checks still see the pages in page order."""

from __future__ import annotations

import asyncio

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import UnexpectedResponse
from connector.datadog.paging import Page, PagePrefetch, PendingPage, paginate
from connector.datadog.resources.users import UserSyncer
from tests.datadog.helpers import ClientFactory, listed
from tests.fakes.datadog import FakeDatadog, generate_org

USERS = "/api/v2/users"


class Listing:
    """`pages` pages whose total says so; each fetch waits for its release, each check is recorded."""

    def __init__(self, pages: int, *, last_after: dict[int, int] | None = None) -> None:
        self.pages = pages
        # page -> the last page number that page's total implies (a total that shrinks mid-walk)
        self.last_after = last_after or {}
        self.fetched: list[int] = []
        self.checked: list[int] = []
        self.gates: dict[int, asyncio.Event] = {}

    async def fetch(self, number: int) -> PendingPage[str]:
        self.fetched.append(number)
        await self.gates.setdefault(number, asyncio.Event()).wait()
        last = self.last_after.get(number, self.pages - 1)

        def check() -> Page[str]:
            self.checked.append(number)
            following = number + 1 if number < last else None
            return Page(
                items=[f"item-{number}"],
                number=number,
                next_number=following,
                total=last + 1,
                last_number=last if following is not None else None,
            )

        return check

    def release(self, *numbers: int) -> None:
        for number in numbers:
            self.gates.setdefault(number, asyncio.Event()).set()


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_the_pages_the_total_implies_are_requested_at_once_up_to_the_window() -> None:
    listing = Listing(pages=10)
    listing.release(*range(10))
    pages = PagePrefetch(listing.fetch, window=4)
    await pages.get(0)
    await settle()
    assert listing.fetched == [0, 1, 2, 3, 4]  # four pages in flight ahead of the caller
    await pages.get(1)
    await settle()
    assert listing.fetched == [0, 1, 2, 3, 4, 5]  # the window slides by one page per page taken
    for number in range(2, 10):
        assert (await pages.get(number)).items == [f"item-{number}"]
    await settle()
    assert listing.fetched == list(range(10))  # every page once, nothing past the total


async def test_checks_run_in_page_order_whatever_order_the_pages_arrive_in() -> None:
    listing = Listing(pages=5)
    listing.release(0)
    pages = PagePrefetch(listing.fetch, window=4)
    await pages.get(0)
    await settle()
    listing.release(4, 3, 2)
    await settle()
    assert listing.checked == [0]  # arrived, not yet checked: the guard must see page 1 first
    listing.release(1)
    for number in range(1, 5):
        await pages.get(number)
    assert listing.checked == [0, 1, 2, 3, 4]


async def test_pages_past_a_shrunken_total_are_dropped() -> None:
    # Page 0 implies pages up to 5; page 1's total (users deleted meanwhile) ends the listing at page 2.
    listing = Listing(pages=6, last_after={1: 2, 2: 2})
    listing.release(0, 1, 2)
    pages = PagePrefetch(listing.fetch, window=8)
    await pages.get(0)
    await settle()
    assert listing.fetched == [0, 1, 2, 3, 4, 5]
    await pages.get(1)
    last = await pages.get(2)
    assert last.next_number is None
    await settle()
    assert listing.fetched == [0, 1, 2, 3, 4, 5]  # pages 3-5 were in flight; nothing more was asked for
    assert listing.checked == [0, 1, 2]


async def test_a_window_below_one_page_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one page"):
        PagePrefetch(Listing(pages=1).fetch, window=0)


async def _walk(syncer: UserSyncer) -> list[str]:
    names: list[str] = []
    token = ""
    while True:
        page = await syncer.list_resources(None, token)
        names.extend(r.id.resource for r in page.items)
        if not page.next_token:
            return names
        token = page.next_token


async def test_a_user_sync_requests_each_page_once_and_keeps_datadog_order(make_client: ClientFactory) -> None:
    with FakeDatadog(generate_org(users=950, seed=3, teams=1)) as fake:
        client: DatadogClient = make_client(fake)
        expected = [u.id async for page in paginate(listed(client.fetch_users)) for u in page.items]
        before = fake.count("GET", USERS)
        assert await _walk(UserSyncer(client)) == expected
        assert fake.count("GET", USERS) - before == 10  # 950 users: pages 0-9, each once


async def test_a_repeated_page_is_still_an_error_when_pages_are_fetched_ahead(make_client: ClientFactory) -> None:
    with FakeDatadog(generate_org(users=950, seed=3, teams=1)) as fake:
        fake.faults.hostile("repeat", path=USERS, times=1000)
        syncer = UserSyncer(make_client(fake))
        with pytest.raises(UnexpectedResponse, match="page 1 repeats page 0"):
            await _walk(syncer)
