"""Tasks as ConductorOne sends them, for the fake ConductorOne's queue: grants, revokes, and empty tasks."""

from __future__ import annotations

from google.protobuf.message import Message

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


# ---- answers no parser of ours reads whole (the fake sends them with answer_raw) ------------------------------

BAD_UTF8_MARK = "\x00mark\x00"
"""Put in a task's string field, then `with_bad_utf8` turns it into invalid UTF-8 of the same length."""


def with_bad_utf8(message: Message) -> bytes:
    """`message` serialized, with every BAD_UTF8_MARK turned into bytes that are no UTF-8 (proto3 strings must be)."""
    mark = BAD_UTF8_MARK.encode()
    raw = message.SerializeToString()
    if mark not in raw:
        raise ValueError("the message holds no BAD_UTF8_MARK")
    return raw.replace(mark, b"\xff" * len(mark))


def length_delimited(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, encoded by hand (for messages the library will not build)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def deep_struct(depth: int) -> bytes:
    """A google.protobuf.Struct nested `depth` Structs deep (the parser stops at 100 messages deep; Go at 10,000)."""
    value = length_delimited(3, b"x")  # Value.string_value
    for _ in range(depth):
        entry = length_delimited(1, b"a") + length_delimited(2, value)  # map entry: key, Value
        value = length_delimited(5, length_delimited(1, entry))  # Value.struct_value = Struct{fields}
    return length_delimited(1, length_delimited(1, b"a") + length_delimited(2, value))


def deep_action_task(task_id: str, depth: int) -> bytes:
    """A Task (bytes) invoking action `deep` with arguments nested `depth` Structs deep."""
    action = length_delimited(1, b"deep") + length_delimited(2, deep_struct(depth))
    number = baton_pb2.Task.DESCRIPTOR.fields_by_name["action_invoke"].number
    return length_delimited(1, task_id.encode()) + length_delimited(number, action)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
