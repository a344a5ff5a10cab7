"""An application key scoped without a permission the sync needs (`teams_read`, `on_call_read`, `api_keys_read`...),
or whose user's roles lack it, passes the key check (which needs `user_access_read` only) and is refused later with
Datadog's bare 403 "Forbidden". The error said `GET /api/v2/team -> 403: Forbidden`, naming no permission: the
engineer had to find which scope to add. It names the permission of the call (docs/spec/datadog-api.md §1.3), and
only for Datadog's own 403: a proxy's 403 says nothing of the key's scopes."""

from __future__ import annotations

import pytest

from connector.datadog.client import DatadogClient
from connector.datadog.errors import Forbidden
from tests.independent.datadog.peer import Call, outcome, refused
from tests.independent.rawpeer import http

DATADOGS_403 = http(403, b'{"errors": ["Forbidden"]}')
TEAM = "6f0c3a52-1d9e-4c7e-9a3b-2e5d8c1f4a70"
USER = "0b7e2c1a-5f3d-4e8a-9c6b-1d2e3f4a5b6c"
ROLE = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"


async def teams(dd: DatadogClient) -> object:
    return (await dd.fetch_teams(0))()


async def schedules(dd: DatadogClient) -> object:
    return await dd.list_schedules(0)


async def api_keys(dd: DatadogClient) -> object:
    return await dd.list_api_keys(0)


async def app_keys(dd: DatadogClient) -> object:
    return await dd.list_service_account_app_keys(USER)


async def role_grant(dd: DatadogClient) -> object:
    await dd.add_user_to_role(ROLE, USER)
    return None


async def api_key_delete(dd: DatadogClient) -> object:
    await dd.delete_api_key(TEAM)
    return None


@pytest.mark.parametrize(
    ("call", "permission"),
    [
        (teams, "teams_read"),
        (schedules, "on_call_read"),
        (api_keys, "api_keys_read"),
        (app_keys, "service_account_write"),
        (role_grant, "user_access_manage"),
        (api_key_delete, "api_keys_delete"),
    ],
    ids=["teams", "schedules", "api-keys", "service-account-app-keys", "role-grant", "api-key-delete"],
)
async def test_datadogs_403_names_the_permission_the_call_needs(call: Call, permission: str) -> None:
    result, _ = await outcome([DATADOGS_403], call)
    error = refused(result, Forbidden, "-> 403: Forbidden")
    assert f"this call needs the Datadog permission {permission}" in str(error)


async def test_a_403_not_datadogs_names_no_permission() -> None:
    result, _ = await outcome([http(403, b"<html>Access denied</html>", ((b"Content-Type", b"text/html"),))], teams)
    assert isinstance(result, Forbidden)
    assert "permission" not in str(result)


@pytest.mark.parametrize("words", ["Authentication error", "authentication error "])
async def test_datadogs_403_for_a_refused_key_names_no_permission(words: str) -> None:
    """Datadog answers a bad or revoked key with 403 "Authentication error" (docs/spec/datadog-api.md §2.5): a key
    revoked days after the start-up check made every call name a permission 'the scopes lack', and the operator added
    scopes to a key that needed replacing."""
    result, _ = await outcome([http(403, b'{"errors": ["%s"]}' % words.encode())], teams)
    error = refused(result, Forbidden, f"-> 403: {words.strip()}")
    assert "permission" not in str(error)


async def test_a_403_merely_mentioning_authentication_still_names_the_permission() -> None:
    result, _ = await outcome([http(403, b'{"errors": ["multi-factor authentication required for this role"]}')], teams)
    assert "this call needs the Datadog permission teams_read" in str(result)
