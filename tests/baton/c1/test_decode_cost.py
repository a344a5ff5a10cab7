"""A GetTask answer whose decode would hold the event loop is refused before it is decoded
(connector/baton/c1/salvage.py `weigh`).

The parser (upb, in C) holds the GIL for a whole decode, on a worker thread too, and maps are costly: a task whose
Struct holds 2.4 million fields (32 MB) took 1.8 s to decode on the event loop at every poll, and the copy a running
task offered again is compared with grows with the square of its entries (188 s), while /healthz, the heartbeats of a
running sync and every report waited (the kubelet restarts a pod whose liveness probe does not answer). Such a task is
refused by its id, as a task that does not decode is: ConductorOne hears it failed.
"""

from __future__ import annotations

import asyncio

import pytest
from google.protobuf import struct_pb2

from connector.baton.c1 import BatonServiceClient
from connector.baton.c1.errors import C1UnreadableTaskError
from connector.baton.c1.salvage import (
    MAX_FIELDS,
    MAX_ITEMS,
    MAX_MAP_ENTRIES,
    SCAN_ABOVE_BYTES,
    PartlyRead,
    UnreadableTask,
    Weight,
    decode_get_task,
    salvage,
    weigh,
)
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import length_delimited

Response = baton_pb2.BatonServiceGetTaskResponse
Task = baton_pb2.Task
_TASK_NUMBER = Response.DESCRIPTOR.fields_by_name["task"].number
_SYNC_NUMBER = Task.DESCRIPTOR.fields_by_name["sync_full"].number
_TARGETED_NUMBER = Task.SyncFullTask.DESCRIPTOR.fields_by_name["targeted_sync_resources"].number


def _refused(raw: bytes) -> PartlyRead | UnreadableTask | None:
    """What is read of an answer too costly to decode (as the client reads it: `BatonServiceClient.get_task`)."""
    problem = weigh(raw).problem
    assert problem is not None, "the answer is within the bounds"
    return salvage(raw, problem, decode_task=False)


def _action_task(entries: int) -> Task:
    """An action_invoke task whose arguments are one Struct of `entries` fields."""
    task = Task(id=new_ksuid())
    task.action_invoke.name = "disable_user"
    args = task.action_invoke.args
    for i in range(entries):
        args.fields[f"{i:x}"].bool_value = True
    return task


def _many_empty_resources(count: int) -> tuple[str, bytes]:
    """A sync_full task (id, answer bytes) targeting `count` empty resources: 2 bytes a message on the wire."""
    task_id = new_ksuid()
    sync = length_delimited(_TARGETED_NUMBER, b"") * count
    task = length_delimited(1, task_id.encode()) + length_delimited(_SYNC_NUMBER, sync)
    return task_id, length_delimited(_TASK_NUMBER, task)


async def test_a_task_holding_a_map_too_large_to_decode_is_refused_by_its_id(
    fake: FakeC1, client: BatonServiceClient
) -> None:
    task = _action_task(MAX_MAP_ENTRIES + 1)
    fake.answer_raw("GetTask", Response(task=task).SerializeToString())
    with pytest.raises(C1UnreadableTaskError) as caught:
        await client.get_task()
    assert (caught.value.task_id, caught.value.task_type) == (task.id, "action_invoke")
    assert caught.value.problem == f"a map in it (Struct.fields) holds more than {MAX_MAP_ENTRIES} entries"
    assert str(caught.value) == (f"GetTask: ConductorOne's action_invoke could not be decoded ({caught.value.problem})")
    assert (await client.get_task()).HasField("task") is False  # the next answer is read as ever


async def test_a_task_of_more_messages_than_are_decoded_is_refused_by_its_id(
    fake: FakeC1, client: BatonServiceClient
) -> None:
    task_id, raw = _many_empty_resources(MAX_ITEMS + 1)
    fake.answer_raw("GetTask", raw)
    with pytest.raises(C1UnreadableTaskError) as caught:
        await client.get_task()
    assert (caught.value.task_id, caught.value.task_type) == (task_id, "sync_full")
    assert caught.value.problem == f"it holds more than {MAX_ITEMS} messages and list items"


def test_a_task_of_more_list_items_than_are_decoded_is_refused() -> None:
    """Items of a repeated string cost as messages do (decoded, then listed in Python by the handler)."""
    task = Task(id=new_ksuid())
    task.sync_full.sync_resource_type_ids.extend(["role"] * (MAX_ITEMS + 1))
    assert weigh(Response(task=task).SerializeToString()).problem == (
        f"it holds more than {MAX_ITEMS} messages and list items"
    )


def test_the_weighing_itself_is_bounded() -> None:
    """Fields nobody decodes (unknown ones, scalars) cost the walk as much as the others: 16 million took 26 s. Such
    an answer is not read at the wire level either (the undecodable-answer error: None)."""
    unknown_varints = b"\x28\x01" * (MAX_FIELDS + 1)  # field 5, unknown to the answer
    assert weigh(unknown_varints).problem == f"it holds more than {MAX_FIELDS} fields"
    assert _refused(unknown_varints) is None


def test_a_packed_run_of_numbers_counts_its_items() -> None:
    """A resource type's traits are a packed run of numbers: 30 million in one field took 0.33 s to decode."""
    task = Task(id=new_ksuid())
    grantable = task.grant.entitlement.grantable_to.add(id="user")
    grantable.traits.extend([resource_pb2.ResourceType.TRAIT_USER] * (MAX_ITEMS + 1))
    assert weigh(Response(task=task).SerializeToString()).problem == (
        f"it holds more than {MAX_ITEMS} messages and list items"
    )


def test_a_map_sent_in_parts_that_the_parser_merges_counts_whole() -> None:
    """A singular field sent twice is merged by the parser, maps and all: two halves make one map of their sum."""
    half = _action_task(MAX_MAP_ENTRIES // 2 + 1)
    raw = Response(task=half).SerializeToString()
    assert weigh(raw).problem is None
    assert weigh(raw + raw).problem == f"a map in it (Struct.fields) holds more than {MAX_MAP_ENTRIES} entries"


def test_many_maps_each_within_the_limit_are_decoded() -> None:
    """Each map's cost is its own: a targeted sync of many resources, each with a profile, is no refusal."""
    task = Task(id=new_ksuid())
    for i in range(3_000):
        resource = task.sync_full.targeted_sync_resources.add(
            id=resource_pb2.ResourceId(resource_type="user", resource=f"u{i}")
        )
        resource.profile.update({"email": f"u{i}@example.com", "name": f"User {i}", "title": "engineer"})
    raw = Response(task=task).SerializeToString()
    assert len(raw) > SCAN_ABOVE_BYTES
    assert weigh(raw).problem is None
    assert decode_get_task(raw) == Response(task=task)


def test_a_map_at_any_depth_is_weighed() -> None:
    """Nested deeper than the parser goes (it refuses the answer there), a map is still counted: refused either way."""
    inner = struct_pb2.Struct()
    for i in range(MAX_MAP_ENTRIES + 1):
        inner.fields[f"{i:x}"].bool_value = True
    payload = inner.SerializeToString()
    for _ in range(110):
        payload = length_delimited(1, length_delimited(1, b"a") + length_delimited(2, length_delimited(5, payload)))
    action = length_delimited(1, b"deep") + length_delimited(2, payload)
    task_id = new_ksuid()
    number = Task.DESCRIPTOR.fields_by_name["action_invoke"].number
    raw = length_delimited(_TASK_NUMBER, length_delimited(1, task_id.encode()) + length_delimited(number, action))
    assert weigh(raw).problem == f"a map in it (Struct.fields) holds more than {MAX_MAP_ENTRIES} entries"
    read = _refused(raw)
    assert isinstance(read, UnreadableTask)
    assert (read.task_id, read.task_type) == (task_id, "action_invoke")


def test_an_answer_without_a_task_holding_too_many_messages_is_an_idle_answer() -> None:
    """Millions of annotations beside no task: what decodes cheaply (the pace) is kept, as for any answer that does
    not decode whole."""
    annotations = length_delimited(4, b"") * (MAX_ITEMS + 1)
    pace = length_delimited(2, b"\x08\x07")  # next_poll { seconds: 7 }
    read = _refused(pace + annotations)
    assert isinstance(read, PartlyRead)
    assert read.response.next_poll.seconds == 7
    assert not read.response.HasField("task")


async def test_the_cost_of_a_large_answer_is_weighed_off_the_event_loop(
    fake: FakeC1, client: BatonServiceClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connector.baton.c1 import client as client_module

    weighed_on: list[str] = []

    def recording(raw: bytes) -> Weight:
        try:
            asyncio.get_running_loop()
            weighed_on.append("the event loop")
        except RuntimeError:
            weighed_on.append("a worker thread")
        return weigh(raw)

    monkeypatch.setattr(client_module, "weigh", recording)
    small = _action_task(3)
    fake.answer_raw("GetTask", Response(task=small).SerializeToString())
    assert (await client.get_task()).task == small
    assert weighed_on == []  # a small answer cannot cost much: decoded as it comes
    large = _action_task(MAX_MAP_ENTRIES)
    fake.answer_raw("GetTask", Response(task=large).SerializeToString())
    assert (await client.get_task()).task == large
    assert weighed_on == ["a worker thread"]
