"""The `update_user` action (docs/spec/credentials.md §5) against the fake Datadog."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
import structlog.testing
from google.protobuf import struct_pb2

from connector.baton.connector import ActionManager
from connector.baton.errors import Code, ConnectorError, InvalidArgumentError
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from connector.datadog.errors import UnexpectedResponse
from tests.datadog.helpers import ClientFactory, ToTheFake, answered_by
from tests.fakes.datadog import FakeDatadog
from tests.fakes.datadog.org import User

USER = "/api/v2/users/{user_id}"


@pytest.fixture
def actions(fake: FakeDatadog, make_client: ClientFactory) -> ActionManager:
    found = DatadogConnector(make_client(fake), DatadogOptions(provisioning=True)).action_manager()
    assert found is not None
    return found


def _human(fake: FakeDatadog) -> User:
    return next(u for u in fake.org.users.values() if not u.service_account and u.status == "Active")


def _args(user_id: object = None, **values: object) -> struct_pb2.Struct:
    args = struct_pb2.Struct()
    if user_id is not None:
        args.update({"user_id": user_id})  # type: ignore[dict-item]
    args.update(values)  # type: ignore[arg-type]
    return args


def _ref(user: User) -> dict[str, str]:
    return {"resource_type_id": "user", "resource_id": user.id}


async def test_update_user_changes_only_the_given_fields(fake: FakeDatadog, actions: ActionManager) -> None:
    user = _human(fake)
    email = user.email
    fake.reset_counters()
    result = await actions.invoke_action("update_user", _args(_ref(user), name="Ada Lovelace", title="Analyst"))
    assert dict(result.response) == {"success": True}
    assert result.annotations == []
    assert (user.name, user.title, user.email) == ("Ada Lovelace", "Analyst", email)
    assert fake.count("PATCH", USER) == 1


async def test_empty_and_non_string_values_are_not_given(fake: FakeDatadog, actions: ActionManager) -> None:
    user = _human(fake)
    name, title = user.name, user.title
    # "" and non-string values mean "not given" (§5 step 2): only the email changes.
    await actions.invoke_action("update_user", _args(_ref(user), email="new@example.com", name="", title=3))
    assert (user.email, user.name, user.title) == ("new@example.com", name, title)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (_args(None, name="x"), "missing required argument user_id"),
        (_args("plain-string", name="x"), "missing required argument user_id"),
        (_args({"resource_type_id": "user"}, name="x"), "missing required argument user_id"),
        (_args({"resource_type_id": "user", "resource_id": ""}, name="x"), "user_id cannot be empty"),
        (_args({"resource_type": "user", "resource": "u1"}, name="", email=""), "at least one of name, email or title"),
    ],
)
async def test_update_user_refuses_bad_arguments_without_a_request(
    fake: FakeDatadog, actions: ActionManager, args: struct_pb2.Struct, message: str
) -> None:
    fake.reset_counters()
    with pytest.raises(InvalidArgumentError, match=message):
        await actions.invoke_action("update_user", args)
    assert fake.requests() == []


@pytest.mark.parametrize(
    "email", ["not-an-email", "ada@example.com\nbcc@evil.example", "a" * 250 + "@example.com", " "]
)
async def test_update_user_refuses_an_email_create_account_would_refuse_without_a_request(
    fake: FakeDatadog, actions: ActionManager, email: str
) -> None:
    """The email went to Datadog unchecked (create_account checks it): an address with a control character, without a
    domain or over 254 characters, for Datadog alone to judge, and the fake, like a lenient peer, stored it."""
    user = _human(fake)
    before = user.email
    fake.reset_counters()
    with pytest.raises(
        InvalidArgumentError, match=f"baton-datadog: failed to update user {user.id}: email .* is not a"
    ):
        await actions.invoke_action("update_user", _args(_ref(user), email=email, name="Ada"))
    assert fake.requests() == []
    assert user.email == before


async def test_update_user_sends_the_email_without_surrounding_whitespace(
    fake: FakeDatadog, actions: ActionManager
) -> None:
    user = _human(fake)
    await actions.invoke_action("update_user", _args(_ref(user), email="  ada@example.com\t"))
    assert user.email == "ada@example.com"


async def test_update_user_failure_names_the_user_and_keeps_the_code(actions: ActionManager) -> None:
    with pytest.raises(ConnectorError, match="baton-datadog: failed to update user nobody: ") as caught:
        await actions.invoke_action(
            "update_user", _args({"resource_type_id": "user", "resource_id": "nobody"}, name="x")
        )
    assert caught.value.code == Code.NOT_FOUND


class IgnoresAttributes(ToTheFake):
    """A Datadog that answers a user PATCH 200 having applied only some of the attributes sent (the others dropped
    from the request before the fake sees it), as Datadog may do with `title`."""

    def __init__(self, ignored: set[str]) -> None:
        super().__init__()
        self._ignored = ignored

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            body = json.loads(await request.aread())
            attributes = body["data"]["attributes"]
            for name in self._ignored:
                attributes.pop(name, None)
            headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
            request = httpx.Request("PATCH", request.url, headers=headers, json=body)
        return await self._inner.handle_async_request(request)


@pytest.mark.parametrize(
    ("ignored", "given", "not_changed"),
    [
        ({"name"}, {"name": "Ada Lovelace"}, "name"),
        ({"name"}, {"name": "Ada Lovelace", "title": "Analyst"}, "name"),
        ({"email"}, {"email": "ada@example.com", "name": "Ada"}, "email"),
    ],
)
async def test_update_user_answered_without_a_change_is_not_reported_done(
    fake: FakeDatadog, make_client: ClientFactory, ignored: set[str], given: dict[str, str], not_changed: str
) -> None:
    """Datadog answers the PATCH with the user as it is now: a field it shows unchanged was reported updated all the
    same (`{"success": true}`)."""
    user = _human(fake)
    client = make_client(fake, transport=IgnoresAttributes(ignored))
    found = DatadogConnector(client, DatadogOptions(provisioning=True)).action_manager()
    assert found is not None
    with pytest.raises(ConnectorError, match=f"the answer shows {not_changed} not changed as asked") as caught:
        await found.invoke_action("update_user", _args(_ref(user), **given))
    assert str(caught.value).startswith(f"baton-datadog: failed to update user {user.id}: ")


async def test_update_user_takes_the_email_datadog_lower_cases_as_changed(
    fake: FakeDatadog, actions: ActionManager
) -> None:
    user = _human(fake)
    result = await actions.invoke_action("update_user", _args(_ref(user), email="Ada.Lovelace@Example.COM"))
    assert dict(result.response) == {"success": True}
    assert user.email == "ada.lovelace@example.com"


async def test_enable_user_answered_with_the_user_still_disabled_is_not_done(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    user = next(u for u in fake.org.users.values() if u.status == "Disabled")
    client = make_client(fake, transport=IgnoresAttributes({"disabled"}))
    found = DatadogConnector(client, DatadogOptions(provisioning=True)).action_manager()
    assert found is not None
    with pytest.raises(ConnectorError, match="the answer shows disabled not changed as asked"):
        await found.invoke_action("enable_user", _args(_ref(user)))
    assert user.status == "Disabled"


class DropsFromAnswers(ToTheFake):
    """Datadog (or a proxy rewriting bodies) applies the PATCH but its answer leaves `attribute` out."""

    def __init__(self, attribute: str) -> None:
        super().__init__()
        self._attribute = attribute

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "PATCH":
            return response
        body = json.loads(await response.aread())
        await response.aclose()
        body["data"]["attributes"].pop(self._attribute, None)
        return httpx.Response(response.status_code, json=body)


async def test_enable_user_answered_without_the_users_state_is_not_reported_done(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    """The answer is the user as changed, and says whether it is disabled. One leaving `disabled` out said nothing of
    it, yet read as "not disabled" (the field's default) and the user was reported enabled, as a name left out is not
    taken for the name asked."""
    user = next(u for u in fake.org.users.values() if u.status == "Disabled")
    client = make_client(fake, transport=DropsFromAnswers("disabled"))
    found = DatadogConnector(client, DatadogOptions(provisioning=True)).action_manager()
    assert found is not None
    with pytest.raises(ConnectorError, match=r"the answer does not show disabled \(data.attributes.disabled: missing"):
        await found.invoke_action("enable_user", _args(_ref(user)))


async def test_a_title_datadog_does_not_apply_is_a_warning_not_a_failed_update(
    fake: FakeDatadog, make_client: ClientFactory
) -> None:
    """docs/spec/credentials.md §7 item 4: whether Datadog applies `title` is unverified; send it and do not rely on
    it. Failing on it would fail every update naming a title; the name given with it is still checked."""
    user = _human(fake)
    title_before = user.title
    client = make_client(fake, transport=IgnoresAttributes({"title"}))
    found = DatadogConnector(client, DatadogOptions(provisioning=True)).action_manager()
    assert found is not None
    with structlog.testing.capture_logs() as events:
        result = await found.invoke_action("update_user", _args(_ref(user), name="Ada Lovelace", title="Analyst"))
    assert dict(result.response) == {"success": True}
    assert (user.name, user.title) == ("Ada Lovelace", title_before)  # the fake did not get the title
    (warning,) = [e for e in events if e["log_level"] == "warning"]
    assert "title" in warning["event"]


def _user_actions(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[DatadogClient, ActionManager]:
    client = answered_by(handler)
    found = DatadogConnector(client, DatadogOptions(provisioning=True)).action_manager()
    assert found is not None
    return client, found


async def test_enable_user_answered_enabled_with_a_disabled_status_is_not_done() -> None:
    """Datadog's user is disabled exactly when its status is Disabled. An answer showing `disabled: false` beside
    `status: "Disabled"` contradicts itself, and the action reported success with that status in its own report."""

    def handler(request: httpx.Request) -> httpx.Response:
        attributes = {"disabled": False, "status": "Disabled"}
        return httpx.Response(200, json={"data": {"type": "users", "id": "u1", "attributes": attributes}})

    client, found = _user_actions(handler)
    async with client:
        with pytest.raises(ConnectorError, match="the answer's disabled and status say otherwise than each other"):
            await found.invoke_action("enable_user", _args("u1"))


@pytest.mark.parametrize("status", ["Active", "Pending"])
async def test_disable_user_whose_404_read_shows_an_active_status_is_not_already_disabled(status: str) -> None:
    """Datadog answers a DELETE of a user already disabled with 404, and the user's read tells that from "no such
    user". A read showing `disabled: true` beside an Active (or Pending) status contradicts itself: the offboarding
    was reported done ("success", and "status": "Active" in its own report) on it, the user perhaps still active."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if request.method == "DELETE":
            return httpx.Response(404, json={"errors": ["User not found"]})
        attributes = {"disabled": True, "status": status}
        return httpx.Response(200, json={"data": {"type": "users", "id": "u1", "attributes": attributes}})

    client, found = _user_actions(handler)
    async with client:
        with pytest.raises(ConnectorError, match="the user reads disabled, yet its status says otherwise") as caught:
            await found.invoke_action("disable_user", _args("u1"))
    assert isinstance(caught.value, UnexpectedResponse)
    assert seen == ["DELETE", "GET"]


async def test_disable_user_whose_404_read_shows_it_disabled_in_both_words_is_already_disabled() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(404, json={"errors": ["User not found"]})
        attributes = {"disabled": True, "status": "Disabled"}
        return httpx.Response(200, json={"data": {"type": "users", "id": "u1", "attributes": attributes}})

    client, found = _user_actions(handler)
    async with client:
        result = await found.invoke_action("disable_user", _args("u1"))
    assert dict(result.response) == {"success": True, "user_id": "u1", "status": "Disabled"}


@pytest.mark.parametrize(
    ("action", "args", "message"),
    [
        (
            "update_user",
            _args({"resource_type_id": "user", "resource_id": 1234}, name="x"),
            "baton-datadog: missing required argument user_id (user_id.resource_id: expected a string, got a number)",
        ),
        (
            "update_user",
            _args({"resource_type": ["user"], "resource": "u1"}, name="x"),
            "baton-datadog: missing required argument user_id (user_id.resource_type: expected a string, got an array)",
        ),
        (
            "update_user",
            _args({"resource_type_id": "user"}, name="x"),
            "baton-datadog: missing required argument user_id (user_id.resource_id: missing)",
        ),
        (
            "update_user",
            _args("plain-string", name="x"),
            "baton-datadog: missing required argument user_id (user_id: expected a resource id object, got a string)",
        ),
        (
            "disable_user",
            _args({"resource_type_id": "user", "resource_id": {"id": "u1"}}),
            "user_id.resource_id: expected a string, got an object",
        ),
        ("disable_user", _args(12.5), "user_id must be a string or a resource id, not a number"),
    ],
)
async def test_an_action_argument_of_the_wrong_json_type_is_named_with_its_path(
    fake: FakeDatadog, actions: ActionManager, action: str, args: struct_pb2.Struct, message: str
) -> None:
    """ConductorOne's arguments are JSON values (a Struct). One of the wrong type was "missing required argument
    user_id" whatever it was (a number where the id goes, an array for its type), "user_id is empty or malformed" for
    an object where the id goes, or named by protobuf's oneof ("not a number_value"): the on-call engineer could not
    tell what ConductorOne sent. Each names the member and the JSON types, and nothing is sent to Datadog."""
    fake.reset_counters()
    with pytest.raises(InvalidArgumentError) as raised:
        await actions.invoke_action(action, args)
    assert str(raised.value) == message
    assert fake.requests() == []
