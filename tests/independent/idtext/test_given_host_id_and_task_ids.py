"""Class: text UTF-8 cannot carry, given by the program embedding the runner or sent by ConductorOne, on its way into
a protobuf string or a task's identity.

`ServiceConfig.host_id` was used as given: a value from an embedder's `os.environ` or `socket.gethostname()` holding a
lone surrogate (a byte not UTF-8, as Python reads it) passed the config's length check and ended the runner with a
UnicodeEncodeError traceback building the Hello. It is escaped as the derived host id is (`hostinfo._cap`).

The id of a task whose GetTask answer does not decode (`salvage`) was decoded with "replace": two ids that differ in
bytes that are not UTF-8 became one. Such an id is no task id (27 ASCII letters or digits), so neither was run or
reported, but the second's refusal was taken for a copy of the first's and logged at debug only. Go's parser refuses
the whole answer. Now escaped: two ids stay two, and are still refused.
"""

from __future__ import annotations

from pathlib import Path

from connector.baton.c1 import salvage
from connector.baton.c1.client import task_id_problem
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.independent.service.rig import running


async def test_a_configured_host_id_not_utf8_is_escaped(tmp_path: Path) -> None:
    async with running(tmp_path, host_id="pod-\udcff") as rig:
        assert rig.fake.recorded().hellos[0].host_id == "pod-\\xff"


def _unreadable(task_id: bytes) -> salvage.UnreadableTask:
    placeholder = "Z" * len(task_id)
    raw = baton_pb2.BatonServiceGetTaskResponse(task=baton_pb2.Task(id=placeholder)).SerializeToString()
    raw = raw.replace(placeholder.encode(), task_id)
    found = salvage.salvage(raw, "bad UTF-8")
    assert isinstance(found, salvage.UnreadableTask)
    return found


def test_two_task_ids_differing_in_bytes_not_utf8_stay_two_and_are_refused() -> None:
    first = _unreadable(b"A" * 26 + b"\xff")
    second = _unreadable(b"A" * 26 + b"\xfe")
    assert first.task_id != second.task_id
    assert first.task_id == "A" * 26 + "\\xff"
    assert task_id_problem(first.task_id) is not None
    assert task_id_problem(second.task_id) is not None
    baton_pb2.Task(id=first.task_id)  # a message can carry it (the refusal is reported by the task's id)
