"""Page tokens of the Datadog syncers: the next 0-based `page[number]` as a decimal string."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from connector.baton.errors import InvalidArgumentError
from connector.datadog.paging import Page, PagePrefetch

if TYPE_CHECKING:
    from connector.datadog.client import DatadogClient

T = TypeVar("T")


def page_token_problem(token: str) -> str | None:
    """What is wrong with a page token, or None ('' is the first page)."""
    # ASCII only ("²" is a digit to `isdigit` but not to `int`), and short: `int` refuses over 4,300 digits.
    if token and (not (token.isascii() and token.isdigit()) or len(token) > 18):
        return f"malformed page token {token[:32]!r}: expected a page number"
    return None


def page_number(token: str) -> int:
    """The page a token points at ('' is the first page)."""
    problem = page_token_problem(token)
    if problem is not None:
        raise InvalidArgumentError(problem)
    return int(token) if token else 0


class PageNumberTokens:
    """Base of every Datadog syncer: its tokens are page numbers, checked before a sync resumes with them
    (`connector.baton.connector.PageTokenChecker`)."""

    _client: DatadogClient

    @staticmethod
    def page_token_problem(page_token: str) -> str | None:
        return page_token_problem(page_token)

    @staticmethod
    def page_tokens_are_positions() -> bool:
        # Datadog pages by number over a list sorted by name (users), or by creation: a user renamed, a team or key
        # deleted between two runs shifts the pages (`connector.baton.connector.PositionalPageTokens`).
        return True

    def _read(self, page: Page[T]) -> Page[T]:
        """`page`, read for the sync this syncer serves: the walk of the client's listing checks it continues is
        remembered while it is unfinished, for `sync_ended` to forget."""
        if page.walk is not None:
            walks: dict[Hashable, tuple[Hashable, int]] = vars(self).setdefault("_walks", {})
            if page.next_number is None:
                walks.pop(page.walk[0], None)
            else:
                walks[page.walk[0]] = page.walk
        return page

    def sync_ended(self) -> list[asyncio.Task[Any]]:
        """The sync this syncer served is over, however it ended (`connector.baton.connector.EndsWithTheSync`): the
        pages of its listing fetched ahead (`_pages`, a `PagePrefetch` made on first use) are dropped, their requests
        cancelled. Left, a sync that failed after a page (an item refused, a store write) kept up to a window of
        requests going for it, holding the client's slots. The walks of the listings it left unfinished (`_read`)
        are forgotten by the client's listing checks: kept, every failed sync added its own (up to 16 grant workers'
        each), and their bytes pushed out the walks later syncs were reading."""
        for walk in vars(self).pop("_walks", {}).values():
            self._client.forget_walk(walk)
        prefetch = vars(self).get("_pages")
        return prefetch.cancel() if isinstance(prefetch, PagePrefetch) else []


def next_token(page: Page[Any]) -> str:
    return "" if page.next_number is None else str(page.next_number)
