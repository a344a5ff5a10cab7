"""`update_user` (docs/spec/credentials.md §5) with fields Datadog itself rejects: the action fails with Datadog's words
after the spec's prefix and the code of its status (§4.7), the user keeps every field, and the refused PATCH is
not sent again; a field Datadog silently ignores or changes is never reported as updated."""

from __future__ import annotations

from typing import Any

import pytest

from connector.baton.errors import Code
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import failed_for_good, human
from tests.independent.writes.wire import answer, edited

USER_PATH = r"/api/v2/users/[^/]+"


def _update(user_id: str, **fields: str) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.action_invoke.name = "update_user"
    task.action_invoke.args.update({"user_id": {"resource_type_id": "user", "resource_id": user_id}, **fields})
    return task


REFUSALS: dict[str, tuple[int, Any, Code]] = {
    "400-email": (400, {"errors": ["Invalid email address"]}, Code.INVALID_ARGUMENT),
    "403": (403, {"errors": ["Forbidden"]}, Code.PERMISSION_DENIED),
    "409-email-taken": (409, {"errors": ["Email already in use"]}, Code.ALREADY_EXISTS),
    "422": (422, {"errors": ["Unprocessable: title too long"]}, Code.INVALID_ARGUMENT),
}


@pytest.mark.parametrize("refusal", list(REFUSALS))
async def test_a_field_datadog_rejects_fails_the_action_with_datadogs_words(rig: Rig, refusal: str) -> None:
    status, body, code = REFUSALS[refusal]
    user = human(rig.fake)
    before = (user.name, user.email, user.title)
    rig.wire.on("PATCH", USER_PATH, answer(status, body), times=10)
    finish = await rig.run(_update(user.id, name="Grace", email="grace@example.com", title="t" * 300))
    assert failed_for_good(finish, code), finish
    assert finish.message.startswith(f"baton-datadog: failed to update user {user.id}: "), finish.message
    assert body["errors"][0] in finish.message, finish.message
    assert (user.name, user.email, user.title) == before
    assert len([s for s in rig.wire.seen if s.method == "PATCH"]) == 1


def _ignored(field: str, value: Any) -> Any:
    def edit(body: Any) -> Any:
        body["data"]["attributes"][field] = value
        return body

    return edit


@pytest.mark.parametrize(("field", "shown"), [("name", "Someone Else"), ("email", "other@example.com"), ("name", None)])
async def test_a_field_datadog_answers_otherwise_is_not_reported_updated(rig: Rig, field: str, shown: Any) -> None:
    """Datadog's answer is the user as changed (datadog-api.md §4.2): a 200 showing a field otherwise than asked did not
    change it, and `{"success": true}` would be false."""
    user = human(rig.fake)
    rig.wire.on("PATCH", USER_PATH, edited(_ignored(field, shown)))
    finish = await rig.run(_update(user.id, name="Grace Hopper", email="grace.h@example.com"))
    assert not finish.ok, finish
    assert finish.message.startswith(f"baton-datadog: failed to update user {user.id}: "), finish.message
