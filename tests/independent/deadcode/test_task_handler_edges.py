"""`Handlers` (connector/baton/tasks/handlers.py) on tasks ConductorOne may send that no other test sent: a
create_account task without its `account_info` is refused as a malformed task, before the connector is asked to make
anything; the actions an `action_status` task may ask about are held within `ACTIONS_REMEMBERED` and
`ACTIONS_REMEMBERED_BYTES`, the oldest forgotten first, and an answer too large to hold is not held at all."""

from __future__ import annotations

from typing import cast

import pytest
from google.protobuf import struct_pb2

from connector.baton.connector import ActionResult, Connector
from connector.baton.errors import Code
from connector.baton.pb.c1.connector.v2 import action_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks import handlers as handlers_module
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.outcome import TaskError
from tests.baton.tasks.stubs import StubConnector

Task = baton_pb2.Task


async def test_a_create_account_task_without_account_info_is_refused_and_nothing_is_created() -> None:
    connector = StubConnector()
    handlers = Handlers(cast(Connector, connector), provisioning=True)
    with pytest.raises(TaskError) as refused:
        await handlers.create_account(Task.CreateAccountTask(resource_type_id="user"))
    assert refused.value.code is Code.INVALID_ARGUMENT
    assert refused.value.non_retryable
    assert "account_info is required" in str(refused.value)
    assert connector.accounts.created == []


class _EchoActions:
    """One action, answering with a Struct of `size` characters (set per call)."""

    def __init__(self) -> None:
        self.size = 1

    def action_names(self) -> list[str]:
        return ["echo"]

    def action_schemas(self) -> list[action_pb2.BatonActionSchema]:
        return [action_pb2.BatonActionSchema(name="echo")]

    async def invoke_action(self, name: str, args: struct_pb2.Struct) -> ActionResult:
        response = struct_pb2.Struct()
        response.update({"text": "x" * self.size})
        return ActionResult(response=response)


def _handlers() -> tuple[Handlers, _EchoActions]:
    connector = StubConnector()
    actions = _EchoActions()
    connector.action_manager = lambda: actions  # type: ignore[method-assign,assignment]
    return Handlers(cast(Connector, connector), provisioning=True), actions


async def _invoke(handlers: Handlers) -> str:
    task = Task.ActionInvokeTask(name="echo", args=struct_pb2.Struct())
    outcome = await handlers.invoke_action(task)
    assert isinstance(outcome.response, action_pb2.InvokeActionResponse)
    return outcome.response.id


async def _status_code(handlers: Handlers, action_id: str) -> Code | None:
    try:
        await handlers.action_status(Task.ActionStatusTask(id=action_id))
    except TaskError as exc:
        return exc.code
    return None


async def test_the_oldest_action_is_forgotten_past_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handlers_module, "ACTIONS_REMEMBERED", 3)
    handlers, _ = _handlers()
    ids = [await _invoke(handlers) for _ in range(4)]
    assert await _status_code(handlers, ids[0]) is Code.NOT_FOUND
    for action_id in ids[1:]:
        assert await _status_code(handlers, action_id) is None


async def test_the_oldest_actions_are_forgotten_past_the_bytes_and_one_too_large_is_never_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handlers_module, "ACTIONS_REMEMBERED_BYTES", 1200)
    handlers, actions = _handlers()
    actions.size = 300
    ids = [await _invoke(handlers) for _ in range(4)]  # ~355 bytes each: three fit under 1,200, not four
    assert await _status_code(handlers, ids[0]) is Code.NOT_FOUND
    assert [await _status_code(handlers, action_id) for action_id in ids[1:]] == [None] * 3
    actions.size = 2000
    too_large = await _invoke(handlers)  # still reported as run: only its status is not kept
    assert await _status_code(handlers, too_large) is Code.NOT_FOUND
    assert [await _status_code(handlers, action_id) for action_id in ids[1:]] == [None] * 3, "nothing evicted for it"


async def test_a_status_answer_is_the_actions_own() -> None:
    handlers, _ = _handlers()
    action_id = await _invoke(handlers)
    outcome = await handlers.action_status(Task.ActionStatusTask(id=action_id))
    assert isinstance(outcome.response, action_pb2.GetActionStatusResponse)
    assert (outcome.response.id, outcome.response.name) == (action_id, "echo")
    assert outcome.response.status == action_pb2.BatonActionStatus.BATON_ACTION_STATUS_COMPLETE
