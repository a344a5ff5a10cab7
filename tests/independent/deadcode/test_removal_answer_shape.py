"""`DatadogClient.remove_team_member` (connector/datadog/client.py, through `decode.validate_model`) on a removal's
answer that shows the membership removed with a member of the wrong JSON type: refused as an unexpected response
naming the member by its path in the answer and the types expected and found, never its value, and reported as a
removal that may have been made. The membership's own object is validated apart from the body, and its path was named
from inside it (`role`, not `data.attributes.role`) with what was found looked up in the wrong place: a number was
"got nothing"."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from connector.datadog.errors import UnexpectedResponse, nothing_done
from tests.independent.datadog2.org import membership
from tests.independent.datadog5.test_removal_answers import _outcome
from tests.independent.rawpeer import http

CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "a role that is a number": (
        lambda m: m["attributes"].update(role=5),
        "data.attributes.role (expected a string, got a number)",
    ),
    "a member link that is text": (
        lambda m: m["relationships"]["user"].update(data="u-1"),
        "data.relationships.user.data (expected an object, an array or null, got a string)",
    ),
    "a member id that is a number": (
        lambda m: m["relationships"]["user"]["data"].update(id=5),
        "data.relationships.user.data.id (expected a string, got a number)",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_removal_answer_with_a_member_of_the_wrong_type_is_named_by_its_path(case: str) -> None:
    change, said = CASES[case]
    shown = membership("t-1", "u-1")
    change(shown)
    error, requests = await _outcome(
        lambda dd: dd.remove_team_member("t-1", "u-1"), http(200, json.dumps({"data": shown}).encode())
    )
    assert isinstance(error, UnexpectedResponse), error
    assert str(error).endswith(f"the membership answered: 1 invalid field(s): {said}"), str(error)
    assert "u-1" not in str(error).partition("-> 200")[2]  # the path and types, not the values
    assert not nothing_done(error)
    assert requests == 1
