"""The `update_user` action (docs/spec/credentials.md §5) against the fake Datadog."""

from __future__ import annotations

import pytest
from google.protobuf import struct_pb2

from connector.baton.connector import ActionManager
from connector.baton.errors import Code, ConnectorError, InvalidArgumentError
from connector.datadog.connector import DatadogConnector, DatadogOptions
from tests.datadog.helpers import ClientFactory
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


async def test_update_user_failure_names_the_user_and_keeps_the_code(actions: ActionManager) -> None:
    with pytest.raises(ConnectorError, match="baton-datadog: failed to update user nobody: ") as caught:
        await actions.invoke_action(
            "update_user", _args({"resource_type_id": "user", "resource_id": "nobody"}, name="x")
        )
    assert caught.value.code == Code.NOT_FOUND
