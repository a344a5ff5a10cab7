"""The count a role write's answer states about the role's users (`meta.page.total_count`), which decides whether
the answer is the whole list, and so whether a user missing from it shows the addition NOT made: a plain failure,
nothing saying Datadog may have added the user after all. A count that contradicts the users the same answer lists
(below their number, or above 0 beside none) says nothing of the whole list, and the answer then only fails to show
the change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connector.datadog.errors import SUCCESS_UNSHOWN, UnexpectedResponse, may_have_landed
from tests.independent.datadog.peer import outcome, user
from tests.independent.rawpeer import http


def _answer(users: list[dict[str, Any]], total: Any) -> bytes:
    return json.dumps({"meta": {"page": {"total_count": total}}, "data": users}).encode()


async def _add(body: bytes) -> UnexpectedResponse:
    result, _ = await outcome([http(200, body)], lambda dd: dd.add_user_to_role("r-1", "u-1"))
    assert isinstance(result, UnexpectedResponse), result
    return result


@pytest.mark.parametrize(
    ("users", "total"),
    [([user("u-2", "r-1")], 0), ([user("u-2", "r-1"), user("u-3", "r-1")], 1), ([], 3)],
    ids=["a-member-and-a-count-of-0", "two-members-and-a-count-of-1", "no-member-and-a-count-of-3"],
)
async def test_an_addition_answered_with_a_count_contradicting_its_list_does_not_show_it_not_made(
    users: list[dict[str, Any]], total: int
) -> None:
    error = await _add(_answer(users, total))
    assert not error.shows_not_made, error
    assert "meta.page.total_count) contradicts" in str(error), str(error)
    # The task's failure then says what a 2xx that does not show the change says: Datadog may have made it.
    assert may_have_landed(error) == SUCCESS_UNSHOWN


@pytest.mark.parametrize(
    ("users", "total"),
    [([user("u-2", "r-1")], 1), ([], 0), ([], None)],
    ids=["the-whole-list-of-one-other", "an-empty-list", "an-empty-list-without-a-count"],
)
async def test_an_addition_answered_with_the_whole_list_without_the_user_shows_it_not_made(
    users: list[dict[str, Any]], total: int | None
) -> None:
    error = await _add(_answer(users, total))
    assert error.shows_not_made, error
    assert "the answer lists all of the role's users, without the user" in str(error)


async def test_an_addition_answered_with_a_first_page_without_the_user_is_done() -> None:
    """A page of a longer list (its count above the users it lists) says nothing against the addition: Datadog's
    answer to a role with more than 100 users."""
    result, _ = await outcome(
        [http(200, _answer([user("u-2", "r-1")], 150))], lambda dd: dd.add_user_to_role("r-1", "u-1")
    )
    assert result is None
