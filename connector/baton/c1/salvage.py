"""What can still be read of a GetTask answer that does not decode whole, or that would cost too much to decode.

One string with bad UTF-8 or one Struct nested past the parser's 100 levels (Go's limit is 10,000) anywhere in the
answer fails the whole message. Read whole or not at all, such a task is never reported: ConductorOne keeps it
claimed and hands it out again, and every poll fails on it for good. So the answer's fields are walked at the wire
level: a task that decodes on its own (the fault was elsewhere, in an annotation) is run, and one that does not is
known by its id (and type), so it can be reported failed. A `none` task is no work however little of it decodes.

The parser (upb, in C) holds the GIL for a whole decode, on a worker thread too, and its maps are costly: a task whose
Struct holds 2.4 million fields (32 MB, under the receive limit) took 1.8 s to decode on the event loop at every
poll (800,000 took 7 s in a process whose heap had been busy), and a copy of it (a running task offered again is
compared with its copy) grows with the square of its entries: 6 s for 800,000, 188 s for 2.5 million, while
/healthz, the heartbeats and every report waited. `weigh` weighs an answer at the wire level first
(Python, which gives the GIL up as it goes), and a task over its bounds is refused by its id as one that does not
decode.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, TypeVar

from google.protobuf import descriptor, duration_pb2
from google.protobuf.message import DecodeError

from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2

Response = baton_pb2.BatonServiceGetTaskResponse

_RESPONSE_TASK, _RESPONSE_NEXT_POLL = 1, 2
_TASK_ID = 1
_LENGTH_DELIMITED = 2
_TASK_TYPES: Final = {
    field.number: field.name for field in baton_pb2.Task.DESCRIPTOR.oneofs_by_name["task_type"].fields
}
_NO_WORK: Final = "none"
_MAX_PROBLEM = 200
_Bytes = TypeVar("_Bytes", bytes, memoryview)
MAX_MAP_ENTRIES: Final = 10_000
"""Entries one map of an answer may hold (a Struct's fields: an action's arguments, a profile). A task holds a handful;
copying one grows with the square of its entries (10,000: about a millisecond)."""
MAX_FIELDS: Final = 1_000_000
"""Fields of any kind the weighing reads (`weigh`) before it refuses the answer: its own cost, about a
second of CPU on a worker thread (16 million small fields nobody decodes were 26 s)."""
MAX_ITEMS: Final = 250_000
"""Messages and items of repeated strings an answer may hold in all (each decoded, then walked in Python by the
handler: 10 million resource type ids cost 1.4 s on the event loop before the sync even looked at them): a targeted
sync of ten thousand resources with profiles is well within it, and weighing the largest answer stops here (about
0.7 s of CPU, on a worker thread)."""
SCAN_ABOVE_BYTES: Final = 64 * 1024
"""Answers up to this size are decoded as they come: they cannot hold enough of either to cost much."""
ITEM_BYTES: Final = 64
"""What a message or an item of a repeated field of a decoded answer holds in memory beyond its bytes on the wire,
about: an empty message is 2 bytes on the wire and 56 in the parser's arena, so 480 kB of them were 12.7 MB decoded."""


@dataclass(frozen=True, slots=True)
class UnreadableTask:
    """A task whose id could be read but not the task itself."""

    task_id: str
    """As sent, each byte that is not UTF-8 written `\\xff` (Go's parser refuses the whole answer, and never sees the id);
    the processor checks it as any task id, and one of such bytes is no task id (27 ASCII letters or digits): never
    run or reported, only logged. Escaped, not replaced: two ids that differ in those bytes stay two, each logged."""
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


class _OverBudget(Exception):
    """More fields than a walk may read."""


class _Budget:
    """The fields a walk may still read (`_fields`): a walk in Python costs about 1 µs a field, and fields of no
    interest (unknown ones, scalars) cost as much as the others."""

    def __init__(self, fields: int) -> None:
        self.left = fields

    def take(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise _OverBudget


def decode_get_task(raw: bytes) -> Response | str:
    """The answer as the parser decodes it whole (in C: 32 MiB in well under a second), or why it does not."""
    try:
        return Response.FromString(raw)
    except DecodeError as exc:
        return problem_of(exc)


def salvage(raw: bytes, problem: str, *, decode_task: bool = True) -> PartlyRead | UnreadableTask | None:
    """What can be read of an answer that does not decode whole (`problem`: the parser's reason): the answer rebuilt
    from the parts that decode (the task, next_poll), or the task's id when the task itself does not decode (or, with
    `decode_task` False, must not be: `problem` says why). None when not even that can be read, or not within
    MAX_FIELDS fields. A walk of the fields in Python, about 1 µs each: a second of CPU for an answer of a million
    small fields, so callers on an event loop run it on a worker thread."""
    budget = _Budget(MAX_FIELDS)
    try:
        fields = list(_fields(raw, frozenset({_RESPONSE_TASK, _RESPONSE_NEXT_POLL}), budget))
        task_bytes = b"".join(value for number, value in fields if number == _RESPONSE_TASK)
        poll_bytes = b"".join(value for number, value in fields if number == _RESPONSE_NEXT_POLL)
        next_poll = _duration(poll_bytes) if poll_bytes else None
        response = Response(next_poll=next_poll)
        if not any(number == _RESPONSE_TASK for number, _ in fields):
            return PartlyRead(response, problem)  # no task at all: the fault was in the rest (an annotation)
        if decode_task:
            try:
                response.task.MergeFromString(task_bytes)
            except DecodeError as exc:
                problem = problem_of(exc)
            else:
                return PartlyRead(response, problem)
        task_fields = list(_fields(task_bytes, frozenset({_TASK_ID, *_TASK_TYPES}), budget))
    except (_Malformed, _OverBudget):
        return None
    ids = [value for number, value in task_fields if number == _TASK_ID]
    kinds = [_TASK_TYPES[number] for number, _ in task_fields if number in _TASK_TYPES]
    # The last of a repeated scalar wins, as a parser would read it.
    task_type = kinds[-1] if kinds else None
    if task_type == _NO_WORK:
        # "No work" (§2.3; an empty poll, §3.2 step 6) whatever its annotations hold: all it says is its type. Read as
        # a task that does not decode, one with an id was reported failed (a non-retryable "malformed task") and
        # counted as a task, and one without failed the poll.
        response.ClearField("task")  # what a failed decode merged of it
        response.task.none.SetInParent()
        if ids:
            response.task.id = ids[-1].decode("utf-8", "backslashreplace")
        return PartlyRead(response, problem)
    if not ids:
        return None
    task_id = ids[-1].decode("utf-8", "backslashreplace")
    return UnreadableTask(task_id=task_id, task_type=task_type, problem=problem, next_poll=next_poll)


def problem_of(error: DecodeError) -> str:
    """The parser's reason, without its 'Error parsing message with type ...' preamble."""
    text = str(error)
    return text.rpartition("': ")[2][:_MAX_PROBLEM] or "the message does not decode"


@dataclass(frozen=True, slots=True)
class Weight:
    """What `weigh` found of an answer."""

    problem: str | None
    """What makes it too costly to decode, or None."""
    items: int
    """Its messages and items of repeated fields, as far as the walk went (past MAX_ITEMS when that is the problem)."""


def held_bytes(size: int, items: int | None = None) -> int:
    """About what an answer of `size` bytes holds in memory once decoded: its bytes, and ITEM_BYTES for each of its
    `items` messages and list items (None: not counted, an answer under SCAN_ABOVE_BYTES is not walked; as many as its
    bytes can hold, one in two bytes)."""
    return size + (size // 2 if items is None else items) * ITEM_BYTES


def weigh(raw: bytes) -> Weight:
    """The answer's items, and what makes it too costly to decode (a map over MAX_MAP_ENTRIES, more than MAX_ITEMS
    messages and items of repeated strings, more than MAX_FIELDS fields of any kind), or None. Every message of the
    answer is walked at the wire level, at any depth, as the parser would merge it: a singular message sent twice is one
    message (its maps add up), each element of a repeated one is its own. Framing that does not hold ends the walk of
    that message only: the parser refuses it there, having decoded what came before. About 1 µs a field, so a caller
    on an event loop runs it on a worker thread."""
    items = 0
    budget = _Budget(MAX_FIELDS)
    map_entries: dict[tuple[int, int], int] = {}
    merged: dict[tuple[int, int], int] = {}
    stack: list[tuple[memoryview, descriptor.Descriptor, int]] = [(memoryview(raw), Response.DESCRIPTOR, 0)]
    while stack:
        data, message_type, instance = stack.pop()
        children = _weighed_fields(message_type)
        try:
            for number, value in _fields(data, frozenset(), budget):
                child = children.get(number)
                if child is None:
                    continue  # a singular string or bytes, packed scalars, or a field unknown here
                field_type, is_map, repeated = child
                # A packed run of numbers holds at most one item a byte; any other occurrence is one item.
                items += len(value) if repeated and field_type is _PACKED else 1
                if items > MAX_ITEMS:
                    return Weight(f"it holds more than {MAX_ITEMS} messages and list items", items)
                if not isinstance(field_type, descriptor.Descriptor):
                    continue  # items of a repeated string, bytes or number field
                if is_map:
                    count = map_entries[instance, number] = map_entries.get((instance, number), 0) + 1
                    if count > MAX_MAP_ENTRIES:
                        return Weight(
                            f"a map in it ({message_type.name}.{message_type.fields_by_number[number].name}) holds "
                            f"more than {MAX_MAP_ENTRIES} entries",
                            items,
                        )
                # Each element of a repeated field (a map's entries too) is a message of its own; a singular field sent
                # again is merged into the one before it.
                child_instance = items if is_map or repeated else merged.setdefault((instance, number), items)
                stack.append((value, field_type, child_instance))
        except _Malformed:
            continue
        except _OverBudget:
            return Weight(f"it holds more than {MAX_FIELDS} fields", items)
    return Weight(None, items)


_PACKED = "packed"
"""The type `_weighed_fields` gives a repeated number field: its length-delimited occurrences are packed runs."""
_Weighed = tuple[descriptor.Descriptor | str | None, bool, bool]
_WEIGHED_FIELDS: dict[str, dict[int, _Weighed]] = {}


def _weighed_fields(message_type: descriptor.Descriptor) -> dict[int, _Weighed]:
    """The fields of `message_type` that the parser makes items of, by number: (their message type, whether a map,
    whether repeated); a repeated string or bytes field has None for a type, a repeated number field `_PACKED`."""
    known = _WEIGHED_FIELDS.get(message_type.full_name)
    if known is None:
        known = {}
        for field in message_type.fields:
            if field.message_type is not None:
                known[field.number] = (field.message_type, field.message_type.GetOptions().map_entry, field.is_repeated)
            elif field.is_repeated:
                strings = field.type in (field.TYPE_STRING, field.TYPE_BYTES)
                known[field.number] = (None if strings else _PACKED, False, True)
        _WEIGHED_FIELDS[message_type.full_name] = known
    return known


def _duration(raw: bytes) -> duration_pb2.Duration | None:
    try:
        return duration_pb2.Duration.FromString(raw)
    except DecodeError:
        return None


def _fields(data: _Bytes, known: frozenset[int], budget: _Budget | None = None) -> Iterator[tuple[int, _Bytes]]:
    """(field number, bytes) of each length-delimited field of a message; other wire types are stepped over, but
    not on a `known` field (all of them length-delimited). Every field read, of any type, is taken from `budget`."""
    position, end = 0, len(data)
    while position < end:
        if budget is not None:
            budget.take()
        key, position = _varint(data, position)
        number, wire_type = key >> 3, key & 7
        start = position
        if wire_type == 0:
            _, position = _varint(data, position)
        elif wire_type == 1:
            position += 8
        elif wire_type == _LENGTH_DELIMITED:
            length, start = _varint(data, position)
            position = start + length
        elif wire_type == 5:
            position += 4
        else:  # groups (3, 4) are proto2 only, 6 and 7 do not exist
            raise _Malformed
        if position > end or number == 0:
            raise _Malformed
        if wire_type == _LENGTH_DELIMITED:
            yield number, data[start:position]
        elif number in known:
            raise _Malformed  # a field of ours with the wrong wire type: nothing to read it as


def _varint(data: bytes | memoryview, position: int) -> tuple[int, int]:
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
