"""Tasks ConductorOne sends besides grants and revokes (tests/fakes/tasks.py has those)."""

from __future__ import annotations

from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2


def action_task(action: str, user_id: str, **args: str) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.action_invoke.name = action
    task.action_invoke.args.update({"user_id": {"resource_type_id": "user", "resource_id": user_id}, **args})
    return task


def delete_task(resource_type: str, resource_id: str, parent: tuple[str, str] | None = None) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.delete_resource.resource_id.resource_type = resource_type
    task.delete_resource.resource_id.resource = resource_id
    if parent is not None:
        task.delete_resource.parent_resource_id.resource_type = parent[0]
        task.delete_resource.parent_resource_id.resource = parent[1]
    return task
