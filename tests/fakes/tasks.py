"""Tasks as ConductorOne sends them, for the fake ConductorOne's queue: grants, revokes, and empty tasks."""

from __future__ import annotations

from connector.baton import builders as b
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import entitlement_pb2, grant_pb2, resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2


def kind_task(kind: str) -> baton_pb2.Task:
    """A task of a type that needs no content (`sync_full`, `hello`, `event_feed`, ...)."""
    task = baton_pb2.Task(id=new_ksuid())
    getattr(task, kind).SetInParent()
    if task.WhichOneof("task_type") != kind:
        raise ValueError(f"unknown task type {kind!r}")
    return task


def grant_id(resource_type: str, resource_id: str, slug: str, user_id: str) -> str:
    return f"{resource_type}:{resource_id}:{slug}:user:{user_id}"


def _entitlement(resource_type: str, resource_id: str, slug: str) -> entitlement_pb2.Entitlement:
    res = resource_pb2.Resource(id=b.resource_id(resource_type, resource_id))
    return entitlement_pb2.Entitlement(resource=res, id=f"{resource_type}:{resource_id}:{slug}", slug=slug)


def grant_task(resource_type: str, resource_id: str, slug: str, user_id: str) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.grant.entitlement.CopyFrom(_entitlement(resource_type, resource_id, slug))
    task.grant.principal.CopyFrom(resource_pb2.Resource(id=b.resource_id("user", user_id)))
    return task


def revoke_task(resource_type: str, resource_id: str, slug: str, user_id: str) -> baton_pb2.Task:
    task = baton_pb2.Task(id=new_ksuid())
    task.revoke.grant.CopyFrom(
        grant_pb2.Grant(
            entitlement=_entitlement(resource_type, resource_id, slug),
            principal=resource_pb2.Resource(id=b.resource_id("user", user_id)),
            id=grant_id(resource_type, resource_id, slug, user_id),
        )
    )
    return task
