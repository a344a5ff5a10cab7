"""`repeated google.protobuf.Any` annotations: pack, test for and pick, as the Go SDK's helpers do."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from google.protobuf import any_pb2
from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from google.protobuf.message import Message

M = TypeVar("M", bound=Message)


def pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    # Deterministic so a resource's blob is the same on every run (the c1z diff relies on stable bytes).
    packed.type_url = type_url(type(message))
    packed.value = message.SerializeToString(deterministic=True)
    return packed


def pack_into(annotations: RepeatedCompositeFieldContainer[any_pb2.Any], message: Message) -> None:
    """`annotations.append(pack(message))` with the Any made in place: no second message to copy (issue 12: a
    synced user's trait is packed this way)."""
    annotations.add(type_url=type_url(type(message)), value=message.SerializeToString(deterministic=True))


def type_url(message_class: type[Message]) -> str:
    """The type URL an annotation of this class carries, as the Go SDK packs it: the one place it is spelled."""
    return "type.googleapis.com/" + message_class.DESCRIPTOR.full_name


def has(annotations: Iterable[any_pb2.Any], message_class: type[Message]) -> bool:
    url = type_url(message_class)
    return any(a.type_url == url for a in annotations)


def pick(annotations: Iterable[any_pb2.Any], message_class: type[M]) -> M | None:
    """The first annotation of this type, unpacked, or None."""
    url = type_url(message_class)
    for annotation in annotations:
        if annotation.type_url == url:
            found = message_class()
            found.ParseFromString(annotation.value)
            return found
    return None
