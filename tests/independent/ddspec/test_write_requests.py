"""Guards the class "a write sent otherwise than the spec documents it": each write's method, path and JSON body as
docs/spec/datadog-api.md §4-§6 and reference-connector.md §4 give them, read byte for byte off the wire (a body
Datadog does not document is one it may refuse, or read otherwise: a membership role "member" is a 400, a missing
`data.id` on a user PATCH a 422). Earlier suites held what the client makes of the answers, not what it sends."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from connector.datadog.client import DatadogClient
from tests.independent.datadog2.org import client
from tests.independent.rawpeer import Answer, RawPeer, http

U, R, T = "4029e0ee-d1d9-11ec-ad3d-da7ad0900002", "3fdd7736-d1d9-11ec-ad3d-da7ad0900002", "team-1"


def _user(**attributes: Any) -> dict[str, Any]:
    shown = {"email": "jane@example.com", "status": "Active", "disabled": False, "name": "Jane"} | attributes
    return {
        "type": "users",
        "id": U,
        "attributes": shown,
        "relationships": {"roles": {"data": [{"type": "roles", "id": R}]}},
    }


def _membership(role: str | None) -> dict[str, Any]:
    return {
        "data": {
            "type": "team_memberships",
            "id": "TeamMembership-1",
            "attributes": {"role": role, "provisioned_by": None},
            "relationships": {"user": {"data": {"type": "users", "id": U}}},
        }
    }


def _json(status: int, body: Any) -> bytes:
    return http(status, json.dumps(body).encode())


Call = Callable[[DatadogClient], Awaitable[object]]
# (the call, Datadog's answer, method, path, the body the spec documents; None: no body)
WRITES: dict[str, tuple[Call, bytes, str, str, Any]] = {
    "role grant": (
        lambda dd: dd.add_user_to_role(R, U),
        _json(200, {"meta": {"page": {"total_count": 1}}, "data": [_user()]}),
        "POST",
        f"/api/v2/roles/{R}/users",
        {"data": {"type": "users", "id": U}},
    ),
    "role revoke (a DELETE with a body)": (
        lambda dd: dd.remove_user_from_role(R, U),
        _json(200, {"meta": {"page": {"total_count": 0}}, "data": []}),
        "DELETE",
        f"/api/v2/roles/{R}/users",
        {"data": {"type": "users", "id": U}},
    ),
    "team member grant (role null, never 'member')": (
        lambda dd: dd.add_team_member(T, U),
        _json(200, _membership(None)),
        "POST",
        f"/api/v2/team/{T}/memberships",
        {
            "data": {
                "type": "team_memberships",
                "attributes": {"role": None},
                "relationships": {"user": {"data": {"type": "users", "id": U}}},
            }
        },
    ),
    "team admin grant": (
        lambda dd: dd.add_team_member(T, U, role="admin"),
        _json(200, _membership("admin")),
        "POST",
        f"/api/v2/team/{T}/memberships",
        {
            "data": {
                "type": "team_memberships",
                "attributes": {"role": "admin"},
                "relationships": {"user": {"data": {"type": "users", "id": U}}},
            }
        },
    ),
    "team admin promotion": (
        lambda dd: dd.update_team_membership(T, U, role="admin"),
        _json(200, _membership("admin")),
        "PATCH",
        f"/api/v2/team/{T}/memberships/{U}",
        {"data": {"type": "team_memberships", "attributes": {"role": "admin"}}},
    ),
    "team admin demotion (role null)": (
        lambda dd: dd.update_team_membership(T, U, role="member"),
        _json(200, _membership(None)),
        "PATCH",
        f"/api/v2/team/{T}/memberships/{U}",
        {"data": {"type": "team_memberships", "attributes": {"role": None}}},
    ),
    "team member revoke": (
        lambda dd: dd.remove_team_member(T, U),
        http(204),
        "DELETE",
        f"/api/v2/team/{T}/memberships/{U}",
        None,
    ),
    "account creation": (
        lambda dd: dd.create_user("Jane@Example.com", name="Jane", title="SRE"),
        _json(201, {"data": _user(status="Pending", title="SRE")}),
        "POST",
        "/api/v2/users",
        {"data": {"type": "users", "attributes": {"email": "Jane@Example.com", "name": "Jane", "title": "SRE"}}},
    ),
    "invitation": (
        lambda dd: dd.send_invitation(U),
        _json(
            201,
            {
                "data": [
                    {
                        "type": "user_invitations",
                        "id": "inv-1",
                        "attributes": {"invite_type": "openid_invite"},
                        "relationships": {"user": {"data": {"type": "users", "id": U}}},
                    }
                ]
            },
        ),
        "POST",
        "/api/v2/user_invitations",
        {"data": [{"type": "user_invitations", "relationships": {"user": {"data": {"type": "users", "id": U}}}}]},
    ),
    "disable (Datadog's soft disable)": (
        lambda dd: dd.disable_user(U),
        http(204),
        "DELETE",
        f"/api/v2/users/{U}",
        None,
    ),
    "enable": (
        lambda dd: dd.enable_user(U),
        _json(200, {"data": _user()}),
        "PATCH",
        f"/api/v2/users/{U}",
        {"data": {"type": "users", "id": U, "attributes": {"disabled": False}}},
    ),
    "profile update (title among the attributes)": (
        lambda dd: dd.update_user(U, name="Jane Roe", title="SRE"),
        _json(200, {"data": _user(name="Jane Roe", title="SRE")}),
        "PATCH",
        f"/api/v2/users/{U}",
        {"data": {"type": "users", "id": U, "attributes": {"name": "Jane Roe", "title": "SRE"}}},
    ),
}


@pytest.mark.parametrize("write", list(WRITES))
async def test_each_write_is_sent_as_the_spec_documents_it(write: str) -> None:
    call, answer, method, path, body = WRITES[write]
    async with RawPeer([answer]) as peer, client(peer.base_url) as dd:
        await call(dd)
    (request,) = peer.requests
    head, _, sent = request.partition(b"\r\n\r\n")
    start, *fields = head.decode().split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (f.partition(":") for f in fields)}
    assert start == f"{method} {path} HTTP/1.1"
    if body is None:
        assert sent == b""
    else:
        assert json.loads(sent) == body
        assert headers["content-type"] == "application/json"
    assert {"dd-api-key", "dd-application-key"} <= headers.keys()


async def test_the_api_key_check_sends_the_api_key_alone() -> None:
    """datadog-api.md §1.2 and §9: `/api/v1/validate` needs only DD-API-KEY, and the official client sends only it; the
    application key is checked by the users read that follows (`page[size]=1`)."""
    answers: list[Answer] = [
        _json(200, {"valid": True}),
        _json(200, {"data": [], "meta": {"page": {"total_count": 0}}}),
    ]
    async with RawPeer(answers) as peer, client(peer.base_url) as dd:
        await dd.validate()
    first, second = (r.split(b"\r\n\r\n")[0].decode().lower() for r in peer.requests)
    assert first.startswith("get /api/v1/validate http/1.1")
    assert "dd-api-key:" in first
    assert "dd-application-key" not in first
    assert second.startswith("get /api/v2/users?page%5bsize%5d=1&page%5bnumber%5d=0 http/1.1")
    assert "dd-api-key:" in second
    assert "dd-application-key:" in second
