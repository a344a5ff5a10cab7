"""Every recorded Datadog response goes through the client (or, for endpoints it does not call, its
models and error mapping): nothing in the recordings may fail to parse, and each response must reach
the caller as the documented type or the typed error for its status."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import (
    Conflict,
    DatadogError,
    Forbidden,
    Invalid,
    InvalidAPIKey,
    NotFound,
    RateLimited,
    error_for_response,
    parse_error_messages,
)
from connector.datadog.models import (
    APIKey,
    ApplicationKey,
    ItemEnvelope,
    ListEnvelope,
    OnCallShift,
    Role,
    Schedule,
    ScheduleResponders,
    Team,
    TeamMembership,
    User,
    UserInvitation,
)
from connector.datadog.paging import Page
from tests.datadog.helpers import FAST_RETRY, FakeTime, listed, load_recording, recordings

ID = "([^/]+)"
Call = Callable[[DatadogClient, re.Match[str], Any], Awaitable[Any]]

# (method, path pattern, how the client is asked for it)
CLIENT_CALLS: list[tuple[str, str, Call]] = [
    ("GET", "/api/v1/validate", lambda c, m, b: c.validate()),
    ("GET", "/api/v2/users", lambda c, m, b: listed(c.fetch_users)()),
    ("GET", f"/api/v2/users/{ID}", lambda c, m, b: c.get_user(m[1])),
    ("POST", "/api/v2/users", lambda c, m, b: c.create_user(
        b["data"]["attributes"]["email"], name=b["data"]["attributes"].get("name"),
        title=b["data"]["attributes"].get("title"))),
    ("PATCH", f"/api/v2/users/{ID}", lambda c, m, b: c.update_user(m[1], **b["data"]["attributes"])),
    ("DELETE", f"/api/v2/users/{ID}", lambda c, m, b: c.disable_user(m[1])),
    ("POST", "/api/v2/user_invitations", lambda c, m, b: c.send_invitation(
        b["data"][0]["relationships"]["user"]["data"]["id"])),
    ("GET", "/api/v2/roles", lambda c, m, b: listed(c.fetch_roles)()),
    ("GET", f"/api/v2/roles/{ID}/users", lambda c, m, b: c.list_role_users(m[1])),
    ("POST", f"/api/v2/roles/{ID}/users", lambda c, m, b: c.add_user_to_role(m[1], b["data"]["id"])),
    ("DELETE", f"/api/v2/roles/{ID}/users", lambda c, m, b: c.remove_user_from_role(m[1], b["data"]["id"])),
    ("GET", "/api/v2/team", lambda c, m, b: listed(c.fetch_teams)()),
    ("GET", f"/api/v2/team/{ID}", lambda c, m, b: c.get_team(m[1])),
    ("GET", f"/api/v2/team/{ID}/memberships", lambda c, m, b: c.list_team_memberships(m[1])),
    ("POST", f"/api/v2/team/{ID}/memberships", lambda c, m, b: c.add_team_member(
        m[1], b["data"]["relationships"]["user"]["data"]["id"],
        role="admin" if b["data"]["attributes"].get("role") == "admin" else "member")),
    ("PATCH", f"/api/v2/team/{ID}/memberships/{ID}", lambda c, m, b: c.update_team_membership(
        m[1], m[2], role="admin" if b["data"]["attributes"].get("role") == "admin" else "member")),
    ("DELETE", f"/api/v2/team/{ID}/memberships/{ID}", lambda c, m, b: c.remove_team_member(m[1], m[2])),
    ("GET", f"/api/v2/on-call/schedules/{ID}/responders", lambda c, m, b: c.get_schedule_responders(m[1])),
    ("GET", "/api/v2/api_keys", lambda c, m, b: c.list_api_keys()),
    ("GET", f"/api/v2/service_accounts/{ID}/application_keys",
     lambda c, m, b: c.list_service_account_app_keys(m[1])),
    ("GET", f"/api/v2/application_keys/{ID}", lambda c, m, b: c.get_application_key(m[1])),
    # Credential creates: the answer is checked against what was asked (type, name, owner), and real ones must pass.
    ("POST", "/api/v2/api_keys", lambda c, m, b: c.create_api_key(b["data"]["attributes"]["name"])),
    ("POST", f"/api/v2/service_accounts/{ID}/application_keys", lambda c, m, b: c.create_service_account_app_key(
        m[1], b["data"]["attributes"]["name"], b["data"]["attributes"].get("scopes") or ())),
    ("POST", f"/api/v2/service_accounts/{ID}/access_tokens", lambda c, m, b: c.create_service_account_access_token(
        m[1], b["data"]["attributes"]["name"], b["data"]["attributes"]["scopes"])),
]  # fmt: skip

# Endpoints the client does not call but whose objects it models: parsed with the models directly.
MODEL_PARSES: list[tuple[str, str, type[Any]]] = [
    ("POST", "/api/v2/service_accounts", ItemEnvelope[User]),
    ("GET", f"/api/v2/user_invitations/{ID}", ItemEnvelope[UserInvitation]),
    ("POST", "/api/v2/roles", ItemEnvelope[Role]),
    ("GET|PATCH", f"/api/v2/roles/{ID}", ItemEnvelope[Role]),
    ("POST", f"/api/v2/roles/{ID}/clone", ItemEnvelope[Role]),
    ("POST", "/api/v2/team", ItemEnvelope[Team]),
    ("PATCH", f"/api/v2/team/{ID}", ItemEnvelope[Team]),
    ("GET", f"/api/v2/users/{ID}/memberships", ListEnvelope[TeamMembership]),
    ("POST", "/api/v2/on-call/schedules", ItemEnvelope[Schedule]),
    ("GET|PUT", f"/api/v2/on-call/schedules/{ID}", ItemEnvelope[Schedule]),
    ("GET", f"/api/v2/on-call/schedules/{ID}/on-call", ItemEnvelope[OnCallShift]),
    ("GET|PATCH", f"/api/v2/api_keys/{ID}", ItemEnvelope[APIKey]),
    ("GET", "/api/v2/(current_user/)?application_keys", ListEnvelope[ApplicationKey]),
    ("POST", "/api/v2/current_user/application_keys", ItemEnvelope[ApplicationKey]),
    ("GET|PATCH", f"/api/v2/(current_user/)?application_keys/{ID}", ItemEnvelope[ApplicationKey]),
    ("GET", f"/api/v2/service_accounts/{ID}/application_keys/{ID}", ItemEnvelope[ApplicationKey]),
]

# Recorded but outside what the connector reads: only their errors go through the error mapping.
NOT_MODELLED = re.compile(
    r"/api/v2/(authn_mappings|personal_access_tokens|permissions|logs/events)(/.*)?"
    r"|/api/v2/on-call/(escalation-policies|teams)(/.*)?"
    r"|/api/v2/service_accounts/[^/]+/access_tokens(/.*)?"
    r"|/api/v2/(roles|users)/[^/]+/permissions"
    r"|/api/v2/team/[^/]+/(links|permission-settings)(/.*)?"
    r"|/api/v1/user(/.*)?"
)

ERROR_FOR_STATUS: dict[int, type[DatadogError]] = {
    400: Invalid, 403: Forbidden, 404: NotFound, 409: Conflict, 422: Invalid, 429: RateLimited,
}  # fmt: skip


def _find_call(method: str, path: str) -> tuple[Call, re.Match[str]] | None:
    for m, pattern, call in CLIENT_CALLS:
        if m == method and (match := re.fullmatch(pattern, path)):
            return call, match
    return None


def _find_model(method: str, path: str) -> type[Any] | None:
    for methods, pattern, model in MODEL_PARSES:
        if method in methods.split("|") and re.fullmatch(pattern, path):
            return model
    return None


def _replaying(status: int, headers: dict[str, str], body: Any, sent: list[httpx.Request]) -> httpx.MockTransport:
    content = b"" if body is None else json.dumps(body).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path == "/api/v2/users" and status < 300 and content.startswith(b'{"valid"'):
            # The key check's second call, its application-key probe, is read as the users page it is: answered with
            # the recorded validation, it was no such page.
            return httpx.Response(200, json={"data": [], "meta": {"page": {"total_count": 0}}})
        return httpx.Response(status, headers=headers, content=content)

    return httpx.MockTransport(handler)


def _check_result(result: Any, body: Any) -> None:
    if isinstance(result, Page):
        assert len(result.items) == len(body["data"])
        assert all(isinstance(i, User | Role | Team | TeamMembership | APIKey | ApplicationKey) for i in result.items)
    elif isinstance(result, User | Team | TeamMembership | ApplicationKey | UserInvitation):
        data = body["data"][0] if isinstance(body["data"], list) else body["data"]
        assert result.id == data["id"]
    elif isinstance(result, ScheduleResponders):
        assert result.schedule_id == body["data"]["relationships"]["schedule"]["data"]["id"]
    elif isinstance(result, list):
        assert [u.id for u in result] == [u["id"] for u in body["data"]]
    elif isinstance(result, tuple):  # a credential create: the new object and its secret
        created, secret = result
        assert created.id == body["data"]["id"]
        assert secret is not None
    else:
        assert result is None, result


@pytest.mark.parametrize("path", recordings(), ids=lambda p: f"{p.parent.name}/{p.stem}")
async def test_client_parses_recorded_responses(path: Path) -> None:
    recording = load_recording(path)
    for index, interaction in enumerate(recording["interactions"]):
        request, response = interaction["request"], interaction["response"]
        method, route, status, body = request["method"], unquote(request["path"]), response["status"], response["body"]
        where = f"#{index} {method} {route} -> {status}"
        found = _find_call(method, route)
        if found is not None:
            call, match = found
            sent: list[httpx.Request] = []
            time = FakeTime()
            client = DatadogClient(
                api_key="k" * 32,
                app_key="a" * 40,
                base_url="https://api.datadoghq.com",
                transport=_replaying(status, response["headers"], body, sent),
                retry=FAST_RETRY,
                sleep=time.sleep,
                clock=time.clock,
            )
            async with client:
                if status < 300:
                    _check_result(await call(client, match, request["body"]), body)
                else:
                    # Startup validation names the rejected key instead of a bare Forbidden.
                    expected = InvalidAPIKey if route == "/api/v1/validate" else ERROR_FOR_STATUS[status]
                    with pytest.raises(expected) as raised:
                        await call(client, match, request["body"])
                    assert raised.value.messages == parse_error_messages(json.dumps(body).encode()), where
                    assert raised.value.messages, where
            assert sent, where
            assert any(r.method == method and unquote(r.url.path) == route for r in sent), where
            continue
        if status >= 400:
            error = error_for_response(
                status, method=method, path=route, body=json.dumps(body).encode() if body else b""
            )
            assert isinstance(error, ERROR_FOR_STATUS[status]), where
            assert error.messages or status == 429, where
            continue
        if status == 204:
            assert body is None, where
            continue
        model = _find_model(method, route)
        if model is not None:
            parsed = model.model_validate_json(json.dumps(body))
            assert parsed.data is not None, where
            if isinstance(parsed.data, APIKey):
                assert "key" not in parsed.data.model_dump(), "API key secret must not be kept"
            continue
        assert NOT_MODELLED.fullmatch(route), f"{path.name} {where}: no client call, model or exemption"
