"""`update_user` (docs/spec/credentials.md §5) with hostile argument values, through the task processor, beside
enable_user and disable_user: only name, email and title ever reach Datadog, in the spec's body, for the user named
and no other; a value a hostile ConductorOne smuggles in another argument changes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connector.baton.errors import Code
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good, human

USER_PATH = r"/api/v2/users/[^/]+"


def _task(action: str, args: dict[str, Any]) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.action_invoke.name = action
    task.action_invoke.args.update(args)
    return task


def _ref(user_id: str, type_id: str = "user") -> dict[str, str]:
    return {"resource_type_id": type_id, "resource_id": user_id}


def _patches(rig: Rig) -> list[dict[str, Any]]:
    return [json.loads(s.body) for s in rig.wire.seen if s.method == "PATCH"]


async def test_arguments_beside_name_email_and_title_never_reach_datadog(rig: Rig) -> None:
    user = human(rig.fake)
    other = human(rig.fake, skip=1)
    args = {
        "user_id": _ref(user.id),
        "name": "Grace Hopper",
        "disabled": True,
        "id": other.id,
        "roles": ["admin"],
        "attributes": {"email": "mallory@example.com"},
        "status": "Disabled",
        "service_account": True,
    }
    finish = await rig.run(_task("update_user", args))
    assert finish.ok, finish
    assert _patches(rig) == [{"data": {"type": "users", "id": user.id, "attributes": {"name": "Grace Hopper"}}}]
    assert user.status == "Active"
    assert not user.disabled
    assert other.name != "Grace Hopper"


HOSTILE_VALUES = {
    "json-breaker": 'Robert"}, "disabled": true, "x": {"',
    "line-separators": "Ada\u2028Lovelace\u2029",
    "html": "<script>alert(1)</script>&amp;",
    "right-to-left": "\u202egnirts",
    "emoji": "\U0001f9d1\u200d\U0001f4bb Dev",
    "backslashes": "C:\\Users\\ada\\",
}


@pytest.mark.parametrize("name", list(HOSTILE_VALUES))
async def test_a_hostile_name_or_title_is_sent_as_a_json_string_and_nothing_else(rig: Rig, name: str) -> None:
    user = human(rig.fake)
    value = HOSTILE_VALUES[name]
    finish = await rig.run(_task("update_user", {"user_id": _ref(user.id), "name": value, "title": value}))
    assert finish.ok, finish
    assert _patches(rig) == [{"data": {"type": "users", "id": user.id, "attributes": {"name": value, "title": value}}}]
    assert (user.name, user.title) == (value, value)
    assert not user.disabled


HOSTILE_EMAILS = {
    "two-addresses": "a@example.com,b@example.com",
    "display-name": "Ada <ada@example.com>",
    "header-injection": "ada@example.com\r\nBcc: mallory@example.com",
    "nul": "ada@example.com\x00.evil",
    "no-domain": "ada@",
    "over-254": "a" * 250 + "@example.com",
    "space-inside": "ada lovelace@example.com",
}


@pytest.mark.parametrize("name", list(HOSTILE_EMAILS))
async def test_an_email_no_mail_should_go_to_is_refused_before_any_request(rig: Rig, name: str) -> None:
    user = human(rig.fake)
    email = user.email
    finish = await rig.run(_task("update_user", {"user_id": _ref(user.id), "email": HOSTILE_EMAILS[name]}))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    assert finish.message.startswith(f"baton-datadog: failed to update user {user.id}: ")
    assert rig.wire.seen == []
    assert user.email == email


HOSTILE_USER_IDS: dict[str, tuple[Any, str | None]] = {
    "plain-string": (None, "baton-datadog: missing required argument user_id"),
    "role-type": (_ref("x", "role"), None),
    "empty-id": (_ref(""), "baton-datadog: user_id cannot be empty"),
    "dot-dot": (_ref(".."), None),
    "newline": (_ref("abc\ndef"), None),
    "trailing-space": (_ref("abc "), None),
    "over-1024": (_ref("u" * 1100), None),
    "number-id": ({"resource_type_id": "user", "resource_id": 5}, "baton-datadog: missing required argument user_id"),
    "list": ([1], "baton-datadog: missing required argument user_id"),
}


@pytest.mark.parametrize("name", list(HOSTILE_USER_IDS))
async def test_a_user_id_naming_no_user_is_refused_before_any_request(rig: Rig, name: str) -> None:
    given, message = HOSTILE_USER_IDS[name]
    user = human(rig.fake)
    user_id = user.id if given is None else given
    finish = await rig.run(_task("update_user", {"user_id": user_id, "name": "Changed"}))
    assert failed_for_good(finish, Code.INVALID_ARGUMENT), finish
    if message is not None:
        assert finish.message.startswith(message), finish.message
    assert rig.wire.seen == []
    assert all(u.name != "Changed" for u in rig.fake.org.users.values())


async def test_a_user_id_holding_a_path_stays_one_path_segment(rig: Rig) -> None:
    """`/` is percent-encoded: `a/../../api_keys` names no user (Datadog's 404), never another endpoint."""
    keys = dict(rig.fake.org.api_keys)
    finish = await rig.run(_task("update_user", {"user_id": _ref("a/../../api_keys"), "name": "Changed"}))
    assert failed_for_good(finish, Code.NOT_FOUND), finish
    assert [s.method for s in rig.wire.seen] == ["PATCH"]
    assert rig.fake.count("PATCH", "/api/v2/users/{user_id}") == 1, "the user route, the slashes inside the id encoded"
    assert rig.fake.org.api_keys == keys


@pytest.mark.parametrize("action", ["enable_user", "disable_user"])
async def test_enable_and_disable_ignore_update_arguments(rig: Rig, action: str) -> None:
    user = human(rig.fake)
    name, email = user.name, user.email
    finish = await rig.run(
        _task(action, {"user_id": _ref(user.id), "name": "Mallory", "email": "mallory@example.com", "title": "x"})
    )
    assert finish.ok, finish
    assert (user.name, user.email) == (name, email)
    assert user.disabled == (action == "disable_user")


@pytest.mark.parametrize("action", ["Update_User", "update_user ", "update-user", "updateUser", ""])
async def test_an_action_name_that_is_almost_update_user_runs_nothing(rig: Rig, action: str) -> None:
    user = human(rig.fake)
    finish = await rig.run(_task(action, {"user_id": _ref(user.id), "name": "Changed"}))
    assert not finish.ok, finish
    assert rig.wire.seen == []
    assert user.name != "Changed"
