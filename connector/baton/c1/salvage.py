"""What can still be read of a GetTask answer that does not decode whole.

One string with bad UTF-8 or one Struct nested past the parser's 100 levels (Go's limit is 10,000) anywhere in the
answer fails the whole message. Read whole or not at all, such a task is never reported: ConductorOne keeps it
claimed and hands it out again, and every poll fails on it for good. So the answer's fields are walked at the wire
level: a task that decodes on its own (the fault was elsewhere, in an annotation) is run, and one that does not is
known by its id (and type), so it can be reported failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from google.protobuf import duration_pb2
from google.protobuf.message import DecodeError

from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2

Response = baton_pb2.BatonServiceGetTaskResponse

_RESPONSE_TASK, _RESPONSE_NEXT_POLL = 1, 2
_TASK_ID = 1
_LENGTH_DELIMITED = 2
_TASK_TYPES: Final = {
    field.number: field.name for field in baton_pb2.Task.DESCRIPTOR.oneofs_by_name["task_type"].fields
}
_MAX_PROBLEM = 200


@dataclass(frozen=True, slots=True)
class UnreadableTask:
    """A task whose id could be read but not the task itself."""

    task_id: str
    """As sent (decoded leniently); the processor checks it as any task id."""
    task_type: str | None
    """The payload's type when its field could be found."""
    problem: str
    """The parser's words (never bytes of the answer)."""
    next_poll: duration_pb2.Duration | None


@dataclass(frozen=True, slots=True)
class PartlyRead:
    """The answer rebuilt from the parts that decode: its task decoded on its own, or it holds none."""

    response: baton_pb2.BatonServiceGetTaskResponse
    problem: str


class _Malformed(Exception):
    """Not even the wire framing holds."""


def read_get_task(raw: bytes) -> Response | PartlyRead | UnreadableTask | None:
    """The answer decoded; else what could be read of it (`salvage`)."""
    decoded = decode_get_task(raw)
    return decoded if isinstance(decoded, Response) else salvage(raw, decoded)


def decode_get_task(raw: bytes) -> Response | str:
    """The answer as the parser decodes it whole (in C: 32 MiB in well under a second), or why it does not."""
    try:
        return Response.FromString(raw)
    except DecodeError as exc:
        return problem_of(exc)


def salvage(raw: bytes, problem: str) -> PartlyRead | UnreadableTask | None:
    """What can be read of an answer that does not decode whole (`problem`: the parser's reason): the answer rebuilt
    from the parts that decode (the task, next_poll), or the task's id when the task itself does not decode. None
    when not even that can be read. A walk of the fields in Python, about 1 µs each: seconds of CPU for an answer of
    millions of small fields (up to the receive limit), so callers on an event loop run it on a worker thread."""
    try:
        fields = list(_fields(raw, frozenset({_RESPONSE_TASK, _RESPONSE_NEXT_POLL})))
        task_bytes = b"".join(value for number, value in fields if number == _RESPONSE_TASK)
        poll_bytes = b"".join(value for number, value in fields if number == _RESPONSE_NEXT_POLL)
        next_poll = _duration(poll_bytes) if poll_bytes else None
        response = Response(next_poll=next_poll)
        if not any(number == _RESPONSE_TASK for number, _ in fields):
            return PartlyRead(response, problem)  # no task at all: the fault was in the rest (an annotation)
        try:
            response.task.MergeFromString(task_bytes)
        except DecodeError as exc:
            problem = problem_of(exc)
        else:
            return PartlyRead(response, problem)
        task_fields = list(_fields(task_bytes, frozenset({_TASK_ID, *_TASK_TYPES})))
    except _Malformed:
        return None
    ids = [value for number, value in task_fields if number == _TASK_ID]
    if not ids:
        return None
    kinds = [_TASK_TYPES[number] for number, _ in task_fields if number in _TASK_TYPES]
    # The last of a repeated scalar wins, as a parser would read it.
    return UnreadableTask(
        task_id=ids[-1].decode("utf-8", "replace"),
        task_type=kinds[-1] if kinds else None,
        problem=problem,
        next_poll=next_poll,
    )


def problem_of(error: DecodeError) -> str:
    """The parser's reason, without its 'Error parsing message with type ...' preamble."""
    text = str(error)
    return text.rpartition("': ")[2][:_MAX_PROBLEM] or "the message does not decode"


def _duration(raw: bytes) -> duration_pb2.Duration | None:
    try:
        return duration_pb2.Duration.FromString(raw)
    except DecodeError:
        return None


def _fields(data: bytes, known: frozenset[int]) -> Iterator[tuple[int, bytes]]:
    """(field number, bytes) of each length-delimited field of a message; other wire types are stepped over, but
    not on a `known` field (all of them length-delimited)."""
    position, end = 0, len(data)
    while position < end:
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        value = b""
        if wire_type == 0:
            _, position = _varint(data, position)
        elif wire_type == 1:
            position += 8
        elif wire_type == _LENGTH_DELIMITED:
            length, position = _varint(data, position)
            value = data[position : position + length]
            position += length
        elif wire_type == 5:
            position += 4
        else:  # groups (3, 4) are proto2 only, 6 and 7 do not exist
            raise _Malformed
        if position > end or number == 0:
            raise _Malformed
        if wire_type == _LENGTH_DELIMITED:
            yield number, value
        elif number in known:
            raise _Malformed  # a field of ours with the wrong wire type: nothing to read it as


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    for shift in range(0, 70, 7):
        if position >= len(data):
            raise _Malformed
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
    raise _Malformed
