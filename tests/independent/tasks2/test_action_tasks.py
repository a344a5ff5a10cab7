"""Guards the class "an action task Go's handlers answer is answered as they answer it" (docs/spec/service-mode.md
§2.3 tasks 116 and 118, §3.4): `action_status` asks for the status of an action by the id its invocation's answer gave
ConductorOne; it was answered "unsupported task type" (UNKNOWN, retryable), as if this connector ran no actions, where
the SDK's action manager answers the action's name, status and result (`GetActionStatusResponse`), NotFound for an id
it did not run, and "action id required" for none. `action_get_schema` without a name is refused as Go's handler
refuses it ("action name required"), not looked up as an action named ""."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2

from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import action_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks.processor import UNSUPPORTED
from tests.independent.writes.conftest import Rig
from tests.independent.writes.helpers import human
from tests.independent.writes.tasks import action_task

COMPLETE = action_pb2.BatonActionStatus.BATON_ACTION_STATUS_COMPLETE


def _status_task(action_id: str, name: str = "") -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.action_status.id = action_id
    task.action_status.name = name
    return task


async def test_the_status_of_an_action_run_here_is_its_name_status_and_result(rig: Rig) -> None:
    user = human(rig.fake)
    invoked = await rig.run(action_task("disable_user", user.id))
    assert invoked.ok, invoked
    assert isinstance(invoked.response, action_pb2.InvokeActionResponse)
    finish = await rig.run(_status_task(invoked.response.id, "disable_user"))
    assert finish.ok, finish
    assert finish.message != UNSUPPORTED
    status = finish.response
    assert isinstance(status, action_pb2.GetActionStatusResponse)
    assert (status.id, status.name, status.status) == (invoked.response.id, "disable_user", COMPLETE)
    assert status.response == invoked.response.response
    # As FinishTask carries it: an Any Go unpacks by its type name.
    packed = any_pb2.Any()
    packed.Pack(status)
    assert packed.type_url == "type.googleapis.com/c1.connector.v2.GetActionStatusResponse"
    assert action_pb2.GetActionStatusResponse.FromString(packed.value) == status


async def test_the_status_of_an_action_not_run_here_is_not_found_and_retryable(rig: Rig) -> None:
    finish = await rig.run(_status_task(new_ksuid()))
    assert not finish.ok
    assert (finish.code, finish.non_retryable) == (grpc.StatusCode.NOT_FOUND.value[0], False)
    assert "not found" in finish.message


async def test_an_action_status_without_an_id_is_refused_as_go_refuses_it(rig: Rig) -> None:
    finish = await rig.run(_status_task(""))
    assert not finish.ok
    assert (finish.code, finish.message, finish.non_retryable) == (
        grpc.StatusCode.UNKNOWN.value[0],
        "action id required",
        False,
    )


async def test_an_action_schema_read_without_a_name_is_refused_as_go_refuses_it(rig: Rig) -> None:
    task = baton_pb2.Task(id=new_ksuid())
    task.action_get_schema.SetInParent()
    finish = await rig.run(task)
    assert not finish.ok
    assert (finish.code, finish.message, finish.non_retryable) == (
        grpc.StatusCode.UNKNOWN.value[0],
        "action name required",
        False,
    )
