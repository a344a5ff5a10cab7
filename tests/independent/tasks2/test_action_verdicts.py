"""Guards the class "one situation, one verdict" for account actions, and Go's refusals of an action task's missing
fields (docs/spec/service-mode.md §3.4, `pkg/tasks/c1api/actions.go`).

An action that Datadog may have made all the same (answered 2xx without showing the change) is retryable whatever the
shape of that answer: a repeat of a state-setting action finds the state and says so. The same landed enable was
retryable answered 204 or HTML but final answered `{}`, and an update so answered was final because its wrapper
dropped the error's "may have been made" flag. An `action_invoke` with no name, or no args, is refused as Go's handler
refuses it (Unknown, retryable), before any lookup: it was `unknown action ''`, final, and one without args ran with
none. An `action_status` for an id not run here is NotFound in Go's words."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest

from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.datadog import FakeDatadog
from tests.independent.writes.conftest import Rig
from tests.independent.writes2.test_unreadable_success import EMPTY, NO_DATA, NOT_JSON, enable, update

UNKNOWN = grpc.StatusCode.UNKNOWN.value[0]
NOT_FOUND = grpc.StatusCode.NOT_FOUND.value[0]


@pytest.mark.parametrize("change", [enable, update], ids=["enable", "update"])
async def test_an_action_datadog_may_have_made_is_retryable_whatever_its_answer_looks_like(
    rig: Rig, change: Callable[[FakeDatadog], tuple[str, str, baton_pb2.Task, Callable[[], bool]]]
) -> None:
    verdicts = {}
    for name, landed in (("204", EMPTY), ("html", NOT_JSON), ("{}", NO_DATA)):
        method, path, task, made = change(rig.fake)
        rig.wire.on(method, path, landed)
        finish = await rig.run(task)
        assert not finish.ok, (name, finish)
        assert made(), name
        verdicts[name] = finish.non_retryable
    assert verdicts == {"204": False, "html": False, "{}": False}


async def test_an_action_invoke_without_a_name_is_refused_as_go_refuses_it(rig: Rig) -> None:
    task = baton_pb2.Task(id=new_ksuid())
    task.action_invoke.args.update({"user_id": "x"})
    finish = await rig.run(task)
    assert (finish.ok, finish.code, finish.message, finish.non_retryable) == (
        False,
        UNKNOWN,
        "action name required",
        False,
    )


async def test_an_action_invoke_without_args_is_refused_as_go_refuses_it_not_run_with_none(rig: Rig) -> None:
    task = baton_pb2.Task(id=new_ksuid())
    task.action_invoke.name = "disable_user"
    finish = await rig.run(task)
    assert (finish.ok, finish.code, finish.message, finish.non_retryable) == (False, UNKNOWN, "args required", False)


async def test_an_action_status_not_run_here_is_not_found_in_gos_words(rig: Rig) -> None:
    action_id = new_ksuid()
    task = baton_pb2.Task(id=new_ksuid())
    task.action_status.id = action_id
    finish = await rig.run(task)
    assert (finish.code, finish.message, finish.non_retryable) == (NOT_FOUND, f"action id {action_id} not found", False)
