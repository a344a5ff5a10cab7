"""The `action_list_schemas` and `action_get_schema` tasks (docs/spec/service-mode.md §2.3, §3.4).

ConductorOne learns which actions the connector offers, and the form of each, from these answers; an
action it has not seen listed is never invoked. Both are read-only: failures are retryable, as in Go.
Listing follows the SDK's action manager: without a filter, every global and every resource-scoped
schema; with `resource_type_id`, only the actions scoped to that type.
"""

from __future__ import annotations

from connector.baton.connector import Connector
from connector.baton.errors import Code
from connector.baton.pb.c1.connector.v2 import action_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.tasks.outcome import Outcome, TaskError

TASK_TYPES = frozenset({"action_list_schemas", "action_get_schema"})


def _schemas(connector: Connector) -> list[action_pb2.BatonActionSchema]:
    manager = connector.action_manager()
    # No action manager: the connector offers no actions (and does not advertise CAPABILITY_ACTIONS).
    return [] if manager is None else list(manager.action_schemas())


def list_action_schemas(connector: Connector, task: baton_pb2.Task.ActionListSchemasTask) -> Outcome:
    schemas = _schemas(connector)
    if task.resource_type_id:
        schemas = [s for s in schemas if s.resource_type_id == task.resource_type_id]
    return Outcome(response=action_pb2.ListActionSchemasResponse(schemas=schemas))


def get_action_schema(connector: Connector, task: baton_pb2.Task.ActionGetSchemaTask) -> Outcome:
    if not task.name:
        # Go's handler refuses it before asking the connector (a retryable error, code Unknown), as ours now does: it
        # was looked up as an action named "" and answered NotFound `action  not found`.
        raise TaskError(Code.UNKNOWN, "action name required", non_retryable=False)
    for schema in _schemas(connector):
        if schema.name == task.name:
            return Outcome(response=action_pb2.GetActionSchemaResponse(schema=schema))
    raise TaskError(Code.NOT_FOUND, f"action {task.name} not found", non_retryable=False)  # Go's message


async def answer(connector: Connector, task: baton_pb2.Task) -> Outcome:
    """The processor's hook: one of TASK_TYPES, answered from the connector's action schemas."""
    if task.WhichOneof("task_type") == "action_list_schemas":
        return list_action_schemas(connector, task.action_list_schemas)
    return get_action_schema(connector, task.action_get_schema)
