"""Review r1205 of the fix1201 merge. A 2xx answer was marked "shows the change not made" (a plain failure, the
access `left_live`) where it only failed to show it or contradicted itself: an enable or update whose answer leaves a
field out, a disable or enable whose `disabled` and `status` say otherwise than each other. The rule, one for every
write (`client._all_say_not_made`): every field of the answer that speaks to the change is there and all say "not
made"; else the failure says Datadog may have made the change (SUCCESS_UNSHOWN). And an issuance stopped by the
shutdown whose key Datadog confirmed deleted again said "may have been made all the same: check it there" when that
deletion was `_roll_back`'s once-more one, or the cleanup by name of a create the stop cut."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import httpx
import pytest

from connector.baton.crypto import providers
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.datadog.errors import MAY_HAVE_LANDED, SUCCESS_UNSHOWN
from tests.datadog.test_issue_task import _task
from tests.fakes.tasks import revoke_task
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import (
    ROLE_USERS,
    USER,
    failed_for_good,
    failed_retryably,
    human,
    new_role,
    role_users_answer,
)
from tests.independent.writes.tasks import action_task
from tests.independent.writes.wire import Wire, answer, edited, landed_then

MAYBE = "may have been made all the same"


def _failed_line(logs: list[Any]) -> dict[str, Any]:
    failed = [e for e in logs if e.get("event") == "task failed"]
    assert failed
    return dict(failed[-1])


def _may_have_made(message: str, logs: list[Any]) -> None:
    """The failure says Datadog may have made the change, its line `may_be_live`: not a plain failure."""
    assert SUCCESS_UNSHOWN in message, message
    line = _failed_line(logs)
    assert "left_live" not in line, line


def _plain(message: str) -> None:
    assert SUCCESS_UNSHOWN not in message, message
    assert MAY_HAVE_LANDED not in message, message
    assert "may have" not in message, message


def _drop(field: str) -> Any:
    def edit(document: Any) -> Any:
        document["data"]["attributes"].pop(field, None)
        return document

    return edit


def _set(**attributes: Any) -> Any:
    def edit(document: Any) -> Any:
        document["data"]["attributes"].update(attributes)
        return document

    return edit


async def test_an_enable_whose_answer_leaves_disabled_out_may_have_been_made(rig: Rig, logs: list[Any]) -> None:
    """Datadog made the enable (its status "Active" in the answer), which leaves `disabled` out: a field missing fails
    to show the change, it does not show it not made."""
    user = human(rig.fake)
    rig.fake.org.update_user(user, disabled=True)
    rig.wire.on("PATCH", USER, edited(_drop("disabled")))
    finish = await rig.run(action_task("enable_user", user.id))
    assert not user.disabled
    assert failed_retryably(finish), finish  # an action: a repeat finds the state set
    assert "does not show disabled (data.attributes.disabled: missing or null)" in finish.message, finish.message
    _may_have_made(finish.message, logs)


async def test_an_enable_answered_enabled_beside_a_disabled_status_may_have_been_made(
    rig: Rig, logs: list[Any]
) -> None:
    """`disabled: false` as asked beside `status: "Disabled"`: the answer contradicts itself, and shows nothing."""
    user = human(rig.fake)
    rig.fake.org.update_user(user, disabled=True)
    rig.wire.on("PATCH", USER, edited(_set(status="Disabled")))
    finish = await rig.run(action_task("enable_user", user.id))
    assert not user.disabled
    assert failed_retryably(finish), finish  # an action: a repeat finds the state set
    assert "disabled and status say otherwise than each other" in finish.message, finish.message
    _may_have_made(finish.message, logs)


async def test_an_enable_answered_still_disabled_by_both_fields_stays_a_plain_failure(rig: Rig) -> None:
    """Both fields there, both saying the user is still disabled: the change shown not made."""
    user = human(rig.fake)
    rig.fake.org.update_user(user, disabled=True)
    rig.wire.on(
        "PATCH",
        USER,
        answer(
            200,
            {
                "data": {
                    "type": "users",
                    "id": user.id,
                    "attributes": {"email": user.email, "disabled": True, "status": "Disabled"},
                }
            },
        ),
    )
    finish = await rig.run(action_task("enable_user", user.id))
    assert failed_for_good(finish), finish
    assert "the answer shows disabled not changed as asked" in finish.message, finish.message
    _plain(finish.message)


@pytest.mark.parametrize("edit", ["dropped", "null"])
async def test_an_update_whose_answer_shows_no_name_may_have_been_made(rig: Rig, logs: list[Any], edit: str) -> None:
    user = human(rig.fake)
    rig.wire.on("PATCH", USER, edited(_drop("name") if edit == "dropped" else _set(name=None)))
    finish = await rig.run(action_task("update_user", user.id, name="New Name"))
    assert user.name == "New Name"
    assert failed_retryably(finish), finish  # an action: a repeat finds the state set
    assert "does not show name (data.attributes.name: missing or null)" in finish.message, finish.message
    _may_have_made(finish.message, logs)


async def test_an_update_shown_half_made_may_have_been_made(rig: Rig, logs: list[Any]) -> None:
    """Two fields asked, the answer showing one as asked and the other not: part of the change was made, so the
    change is not shown "not made"."""
    user = human(rig.fake)
    rig.wire.on("PATCH", USER, edited(_set(name="Someone Else")))
    finish = await rig.run(action_task("update_user", user.id, name="New Name", email="new@example.com"))
    assert failed_retryably(finish), finish  # an action: a repeat finds the state set
    assert "the answer shows name not changed as asked (data.attributes.name)" in finish.message, finish.message
    assert SUCCESS_UNSHOWN in finish.message, finish.message


@pytest.mark.parametrize(
    ("attributes", "words"),
    [
        ({"disabled": True, "status": "Active"}, "(data.attributes.disabled: true, .status: not Disabled)"),
        ({"disabled": False, "status": "Disabled"}, "(data.attributes.disabled: false, .status: Disabled)"),
        ({"disabled": False}, "(data.attributes.disabled: false, .status: missing)"),
        ({"status": "Active"}, "(data.attributes.disabled: missing, .status: not Disabled)"),
    ],
)
async def test_a_disable_whose_answer_does_not_consistently_show_the_user_enabled_may_have_been_made(
    rig: Rig, logs: list[Any], attributes: dict[str, Any], words: str
) -> None:
    """The DELETE landed (the fake disabled the user); its answer shows the user enabled by one field only, the other
    missing or saying disabled. Marked "shown not made", it was logged `left_live`, a user Datadog had disabled."""
    user = human(rig.fake)
    body = {"data": {"type": "users", "id": user.id, "attributes": attributes}}
    rig.wire.on("DELETE", USER, landed_then(200, body))
    finish = await rig.run(action_task("disable_user", user.id))
    assert user.disabled
    assert failed_retryably(finish), finish  # an action: a repeat finds the state set
    assert f"the answer does not show the user disabled {words}" in finish.message, finish.message
    _may_have_made(finish.message, logs)


async def test_a_role_revoke_answered_with_another_roles_list_may_have_been_made(rig: Rig) -> None:
    """docs/service-mode.md: a list of users that do not hold the role is no word on the change (another role's
    list), not one that contradicts it."""
    role, user = new_role(rig.fake), human(rig.fake)
    rig.fake.org.assign_role(user.id, role.id)
    other = human(rig.fake, 1)
    listed = role_users_answer(other, "another-role")
    rig.wire.on("DELETE", ROLE_USERS, answer(200, listed))
    finish = await rig.run(revoke_task("role", role.id, "member", user.id))
    assert failed_for_good(finish), finish
    assert "the answer is about another role" in finish.message, finish.message
    assert SUCCESS_UNSHOWN in finish.message, finish.message


async def test_an_issuance_whose_cut_create_was_cleaned_up_by_name_says_it_was_deleted_again(rig: Rig) -> None:
    """The stop cuts the mint's create after it landed; the cleanup by name finds the key and Datadog confirms its
    deletion. The report said "a change it had already sent may have been made all the same: check it there"."""
    entered = asyncio.Event()

    async def landed_then_stalled(request: httpx.Request, wire: Wire) -> httpx.Response:
        await wire.forward(request)
        entered.set()
        await asyncio.Event().wait()
        raise AssertionError

    rig.wire.on("POST", r"/api/v2/api_keys", landed_then_stalled)
    sa = rig.fake.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    before = set(rig.fake.org.api_keys)
    task = baton_pb2.Task(id=new_ksuid())
    task.issue_credential.CopyFrom(_task(sa.id, "api-key"))
    running = asyncio.ensure_future(rig.run(task))
    await entered.wait()
    assert set(rig.fake.org.api_keys) != before
    rig.processor.abandon_all("shutting down", 5)
    finish = await running
    assert set(rig.fake.org.api_keys) == before
    assert not finish.ok, finish
    assert MAYBE not in finish.message, finish.message
    assert "stopped mid-way, and the" in finish.message, finish.message
    assert "was found by its name and deleted again" in finish.message, finish.message


async def test_an_issuance_whose_rollback_is_cut_and_retried_says_the_key_was_deleted_again(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop cuts the encryption; the rollback's first DELETE is cut by the second cancel (the grace's end), and
    `_roll_back`'s once-more DELETE deletes the key, confirmed. It re-raised the cancellation before noting that, and
    the report said "may have been made all the same: check it there"."""
    entered, release = threading.Event(), threading.Event()
    real = providers.encrypt_all

    def held(*args: Any) -> Any:
        entered.set()
        release.wait(5)
        return real(*args)

    monkeypatch.setattr(providers, "encrypt_all", held)
    deleting = asyncio.Event()

    async def stalled(request: httpx.Request, wire: Wire) -> httpx.Response:
        deleting.set()
        await asyncio.Event().wait()
        raise AssertionError

    rig.wire.on("DELETE", r"/api/v2/api_keys/[^/]+", stalled, times=1)
    sa = rig.fake.org.add_user("robot@example.com", name="Robot", service_account=True, status="Active")
    before = set(rig.fake.org.api_keys)
    task = baton_pb2.Task(id=new_ksuid())
    task.issue_credential.CopyFrom(_task(sa.id, "api-key"))
    processing = asyncio.ensure_future(rig.processor.process(task))
    try:
        assert await asyncio.to_thread(entered.wait, 10)
        rig.processor.abandon_all("shutting down", 5)
        await deleting.wait()
        processing.cancel()  # the grace is over: the daemon cancels the task's processing again
        with contextlib.suppress(asyncio.CancelledError):
            await processing
    finally:
        release.set()
    assert set(rig.fake.org.api_keys) == before
    finish = [f for f in rig.c1.finishes if f.task_id == task.id][-1]
    assert MAYBE not in finish.message, finish.message
    assert "stopped mid-way, and the minted credential was deleted again" in finish.message, finish.message
