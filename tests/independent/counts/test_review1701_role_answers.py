"""Review r1701: a role write answer whose count lags the list it holds, though the list itself shows the change made,
is taken as done (the count contradicting the list is refused only where the list does not show the change)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.independent.datadog.peer import outcome, user
from tests.independent.rawpeer import http


def _answer(users: list[dict[str, Any]], total: Any) -> bytes:
    return json.dumps({"meta": {"page": {"total_count": total}}, "data": users}).encode()


@pytest.mark.parametrize(
    ("method", "users", "total"),
    [
        # An addition: the answer lists the user among the role's users; the count is from before the change.
        ("POST", [user("u-1", "r-1")], 0),
        ("POST", [user("u-1", "r-1"), user("u-2", "r-1")], 1),
        # A removal: the answer no longer lists the user; the count is from before the change.
        ("DELETE", [user("u-2", "r-1")], 0),
        ("DELETE", [], 1),
    ],
    ids=["add-first-member-count-0", "add-second-member-count-1", "remove-count-lags", "remove-last-count-1"],
)
async def test_an_answer_showing_the_change_made_is_taken_as_done(method: str, users: list[Any], total: int) -> None:
    call = (
        (lambda dd: dd.add_user_to_role("r-1", "u-1"))
        if method == "POST"
        else (lambda dd: dd.remove_user_from_role("r-1", "u-1"))
    )
    result, _ = await outcome([http(200, _answer(users, total))], call)
    assert result is None, result
