"""Values from a closed set that become access facts in the sync (a membership's role, a responder's position, a user's
account flags): one outside Datadog's set fails the page with an error naming the field, never a default that changes
who has access. Against the fake Datadog on 127.0.0.1 where it can send the value (docs/spec/datadog-api.md)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.syncer import SyncOptions
from connector.baton.sync.to_file import sync_to_file
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.errors import UnexpectedResponse
from tests.datadog.helpers import CANARY_API_KEY, CANARY_APP_KEY, ClientFactory, ToTheFake
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.datadog.org import Team


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(
        generate_org(users=20, seed=7, teams=2, schedules=1), api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY
    ) as server:
        yield server


class _Rewritten(ToTheFake):
    """The fake's answers to GETs of paths ending in `suffix`, changed by `change` (a value the fake never sends)."""

    def __init__(self, suffix: str, change: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self._suffix, self._change = suffix, change

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = await self._inner.handle_async_request(request)
        if request.method != "GET" or not request.url.path.endswith(self._suffix) or answer.status_code != 200:
            return answer
        document = json.loads(await answer.aread())
        self._change(document)
        return httpx.Response(200, json=document)


async def _sync(
    fake: FakeDatadog, make_client: ClientFactory, path: Path, transport: ToTheFake | None = None, **options: bool
) -> None:
    client = make_client(fake, transport=transport) if transport is not None else make_client(fake)
    connector = DatadogConnector(client, DatadogOptions(**options))  # type: ignore[arg-type]
    await sync_to_file(connector.syncers(), path, SyncOptions())


def _team_with_members(fake: FakeDatadog) -> Team:
    return next(team for team in fake.org.teams.values() if team.members)


def _no_secret(error: BaseException) -> None:
    for text in (str(error), repr(error)):
        assert CANARY_API_KEY not in text
        assert CANARY_APP_KEY not in text


@pytest.mark.parametrize(
    ("role", "shown"),
    [
        ("Admin", "'Admin'"),
        ("admin ", "'admin '"),
        ("member", "a string of 6 characters"),  # Datadog refuses it on writes (400) and never sends it
        (CANARY_API_KEY, f"a string of {len(CANARY_API_KEY)} characters"),  # an echoed key is never quoted
    ],
)
async def test_a_membership_role_datadog_never_sends_fails_the_sync_naming_it(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path, role: str, shown: str
) -> None:
    """Datadog's membership role is "admin" or null (datadog-api.md §6.2). "Admin" read as an ordinary member: that
    admin's grant was missing from ConductorOne, as if revoked, and the sync finished complete."""
    team = _team_with_members(fake)
    membership = next(iter(team.members.values()))
    membership.role = role
    with pytest.raises(UnexpectedResponse) as raised:
        await _sync(fake, make_client, tmp_path / "s.c1z")
    text = str(raised.value)
    assert f"GET /api/v2/team/{team.id}/memberships -> 200" in text
    assert f"a membership's role is {shown}, not 'admin' or null" in text
    assert not raised.value.retryable
    _no_secret(raised.value)


async def test_admin_and_null_roles_sync_as_admin_and_member(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    team = _team_with_members(fake)
    first, *rest = team.members.values()
    first.role = "admin"
    for membership in rest:
        membership.role = None
    path = tmp_path / "s.c1z"
    await _sync(fake, make_client, path)
    with C1ZReader(path) as reader:
        grants = {
            (g.entitlement.id.rsplit(":", 1)[-1], g.principal.id.resource)
            for g in reader.grants()
            if g.entitlement.resource.id.resource == team.id
        }
    assert ("admin", first.user_id) in grants
    assert {user_id for slug, user_id in grants if slug == "admin"} == {first.user_id}
    assert {user_id for slug, user_id in grants if slug == "member"} == set(team.members)


def _responders(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [x for x in document.get("included", []) if x.get("type") == "schedule_oncall_responder"]


def _position(shown: object) -> Callable[[dict[str, Any]], None]:
    def change(document: dict[str, Any]) -> None:
        for responder in _responders(document):
            responder["attributes"]["position"] = shown

    return change


@pytest.mark.parametrize(("position", "shown"), [("Current", "'Current'"), (None, "null"), (0, "a JSON number")])
async def test_a_responder_position_datadog_never_sends_fails_the_sync_naming_it(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path, position: object, shown: str
) -> None:
    """A responder's position is previous, current or next. "Current" left the responder out of the current ones, and
    with none current every shift of the answer was synced as on call."""
    transport = _Rewritten("/responders", _position(position))
    with pytest.raises(UnexpectedResponse) as raised:
        await _sync(fake, make_client, tmp_path / "s.c1z", transport, sync_schedules=True)
    text = str(raised.value)
    assert "/responders -> 200" in text
    assert f"a responder's position is {shown}, not 'previous', 'current' or 'next'" in text


async def test_responders_of_another_position_only_are_not_on_call(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    """Asked for the current responder, an answer holding only the next one: its shifts were synced as on call now."""
    transport = _Rewritten("/responders", _position("next"))
    with pytest.raises(UnexpectedResponse, match="the answer holds no current responder"):
        await _sync(fake, make_client, tmp_path / "s.c1z", transport, sync_schedules=True)


@pytest.mark.parametrize(
    ("status", "disabled", "said"),
    [
        ("Active", True, "a user's status is 'Active', yet its disabled is true"),
        ("Pending", True, "a user's status is 'Pending', yet its disabled is true"),
        ("Disabled", False, "a user's status is 'Disabled', yet its disabled is false"),
    ],
)
async def test_a_user_whose_status_contradicts_disabled_fails_the_sync(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path, status: str, disabled: bool, said: str
) -> None:
    """Datadog's user is disabled exactly when its status is Disabled (datadog-api.md §4.1). A disabled user shown
    "Active" was synced enabled (and a disabled service account's keys synced as live)."""

    def change(document: dict[str, Any]) -> None:
        document["data"][0]["attributes"].update(status=status, disabled=disabled)

    with pytest.raises(UnexpectedResponse) as raised:
        await _sync(fake, make_client, tmp_path / "s.c1z", _Rewritten("/api/v2/users", change))
    assert "GET /api/v2/users -> 200: page 0: " + said in str(raised.value)
    _no_secret(raised.value)


async def test_the_item_a_closed_set_value_fails_the_page_for_is_named_by_its_path(
    fake: FakeDatadog, make_client: ClientFactory, tmp_path: Path
) -> None:
    """The failure said "page 0: a user's status is …" or "a membership's role is …" without which of the page's
    items: the on-call engineer searched up to 100 of them. The member is named (`data[2].attributes.status`)."""

    def contradict(document: dict[str, Any]) -> None:
        document["data"][2]["attributes"].update(status="Active", disabled=True)

    with pytest.raises(UnexpectedResponse) as raised:
        await _sync(fake, make_client, tmp_path / "u.c1z", _Rewritten("/api/v2/users", contradict))
    assert "yet its disabled is true (data[2].attributes.status, .disabled)" in str(raised.value)

    team = next(team for team in fake.org.teams.values() if len(team.members) >= 2)

    def promote(document: dict[str, Any]) -> None:
        document["data"][1]["attributes"]["role"] = "Admin"

    with pytest.raises(UnexpectedResponse) as raised:
        await _sync(fake, make_client, tmp_path / "t.c1z", _Rewritten(f"/api/v2/team/{team.id}/memberships", promote))
    assert "a membership's role is 'Admin', not 'admin' or null (data[1].attributes.role)" in str(raised.value)
