"""One `included` object listed twice in one answer, each time otherwise.

Pages already refuse one item listed twice with different contents (test_listed_twice.py); an answer's `included`
objects were indexed by id, the last one kept: a schedule's current shift listed once with one person on call and then
with another synced the first as not on call (a revoked grant), and a role listed twice with another name or other
permissions was synced as whichever came last. Refused now, naming both places, as pages are; listed twice alike, it is
one object, as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connector.datadog.errors import DatadogError, UnexpectedResponse
from connector.datadog.resources.users import _RoleGrants
from tests.datadog.helpers import listed
from tests.independent.datadog2.org import Datadog, client, contents, page_body, role, sync, user
from tests.independent.rawpeer import JSON, RawPeer, http


def _shift(shift_id: str, user_id: str) -> dict[str, Any]:
    return {"type": "shifts", "id": shift_id, "relationships": {"user": {"data": {"type": "users", "id": user_id}}}}


def _responder(responder_id: str, *shifts: str, position: str = "current") -> dict[str, Any]:
    return {
        "type": "schedule_oncall_responder",
        "id": responder_id,
        "attributes": {"position": position},
        "relationships": {"shifts": {"data": [{"type": "shifts", "id": s} for s in shifts]}},
    }


def _responders_answer(included: list[dict[str, Any]]) -> bytes:
    named = sorted({x["id"] for x in included if x["type"] == "schedule_oncall_responder"})
    body = {
        "data": {
            "id": "s1-r",
            "type": "schedule_oncall_responders",
            "relationships": {
                "schedule": {"data": {"type": "schedules", "id": "s1"}},
                "responders": {"data": [{"type": "schedule_oncall_responder", "id": r} for r in named]},
            },
        },
        "included": included,
    }
    return http(200, json.dumps(body).encode(), [*JSON])


async def _on_call(answer: bytes) -> object:
    async with RawPeer([answer]) as peer:
        dd = client(peer.base_url)
        try:
            return (await dd.get_schedule_responders("s1")).user_ids
        except DatadogError as exc:
            return exc
        finally:
            await dd.aclose()


CONTRADICTIONS = {
    "a shift of one person, then of another": (
        [_responder("r", "a"), _shift("a", "u1"), _shift("a", "u2")],
        "included[1] and included[2] list one id with different contents",
    ),
    "a user under two handles": (
        [
            _responder("r", "a"),
            _shift("a", "u1"),
            {"type": "users", "id": "u1", "attributes": {"email": "a@example.com"}},
            {"type": "users", "id": "u1", "attributes": {"email": "b@example.com"}},
        ],
        "included[2] and included[3] list one id with different contents",
    ),
    "a responder current with one shift, then with another": (
        [_responder("r", "a"), _responder("r", "b"), _shift("a", "u1"), _shift("b", "u2")],
        "included[0] and included[1] list one id with different contents",
    ),
    "a responder current, then next": (
        [_responder("r", "a"), _responder("r", "a", position="next"), _shift("a", "u1")],
        "included[0] and included[1] list one id with different contents",
    ),
}


@pytest.mark.parametrize("case", list(CONTRADICTIONS))
async def test_a_responders_object_listed_twice_otherwise_is_refused(case: str) -> None:
    included, said = CONTRADICTIONS[case]
    result = await _on_call(_responders_answer(included))
    assert isinstance(result, UnexpectedResponse), f"synced as on call: {result}"
    assert said in str(result), str(result)


async def test_a_responders_object_listed_twice_alike_is_one_object() -> None:
    included = [_responder("r", "a"), _responder("r", "a"), _shift("a", "u1"), _shift("a", "u1")]
    result = await _on_call(_responders_answer(included))
    assert isinstance(result, tuple), result
    assert set(result) == {"u1"}


async def _users_page(body: bytes) -> Any:
    async with RawPeer([http(200, body)]) as peer:
        dd = client(peer.base_url)
        try:
            return await listed(dd.fetch_users)(0)
        finally:
            await dd.aclose()


async def test_a_role_listed_twice_otherwise_is_refused() -> None:
    """Also when the first of the two is the one the page before included (only new role objects are read again)."""
    before = await _users_page(page_body([user("u-0", "r-1")], 1, included=[role("r-1", "Admin")]))
    grants = _RoleGrants()
    grants.for_page(before)
    twice = await _users_page(
        page_body([user("u-1", "r-1")], 1, included=[role("r-1", "Admin"), role("r-1", "Read Only")])
    )
    with pytest.raises(UnexpectedResponse, match=r"included\[0\] and included\[1\] list one id with different"):
        grants.for_page(twice)
    with pytest.raises(UnexpectedResponse, match=r"included\[0\] and included\[1\] list one id with different"):
        _RoleGrants().for_page(twice)
    alike = await _users_page(page_body([user("u-1", "r-1")], 1, included=[role("r-1", "Admin"), role("r-1", "Admin")]))
    assert set(_RoleGrants().for_page(alike)) == {"r-1"}


async def test_a_sync_of_a_page_with_a_role_listed_twice_otherwise_stores_nothing_of_it(tmp_path: Path) -> None:
    dd = Datadog()
    body = page_body([user("u-0", "r-1")], 1, included=[role("r-1", "Admin"), role("r-1", "Read Only")])
    dd.routes["/api/v2/users"] = lambda _path, _query: (200, body)
    async with dd:
        error = await sync(dd, tmp_path / "sync.c1z")
    assert isinstance(error, UnexpectedResponse), error
    assert "list one id with different contents" in str(error)
    assert contents(tmp_path / "sync.c1z").finished == [False]
