"""Page tokens of the Datadog syncers: the next 0-based `page[number]` as a decimal string."""

from __future__ import annotations

from typing import Any

from connector.baton.errors import InvalidArgumentError
from connector.datadog.paging import Page


def page_number(token: str) -> int:
    """The page a token points at ('' is the first page)."""
    if not token:
        return 0
    # ASCII only ("²" is a digit to `isdigit` but not to `int`), and short: `int` refuses over 4,300 digits.
    if not (token.isascii() and token.isdigit()) or len(token) > 18:
        raise InvalidArgumentError(f"malformed page token {token[:32]!r}: expected a page number")
    return int(token)


def next_token(page: Page[Any]) -> str:
    return "" if page.next_number is None else str(page.next_number)
