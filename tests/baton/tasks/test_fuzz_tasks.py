"""Property-based: whatever task ConductorOne sends, validation and dispatch never raise out of the processor,
and the invariant holds — one FinishTask for a reportable task, an error log line naming it otherwise, no
connector call for an invalid one, and nothing left in flight.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import structlog
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st

from connector.baton.c1.client import task_id_problem
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.baton.tasks.stubs import make_rig

KINDS = [field.name for field in baton_pb2.Task.DESCRIPTOR.oneofs_by_name["task_type"].fields]
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

task_ids = st.one_of(
    st.text(alphabet=ALNUM, min_size=27, max_size=27),
    st.text(max_size=60),
    st.text(alphabet=ALNUM, min_size=26, max_size=28),
    st.integers(min_value=100, max_value=200_000).map(lambda n: "a" * n),
)


@st.composite
def tasks(draw: st.DrawFn) -> baton_pb2.Task:
    task = baton_pb2.Task(id=draw(task_ids))
    kind = draw(st.sampled_from([*KINDS, None]))
    if kind is not None:
        payload = getattr(task, kind)
        payload.SetInParent()
        noise = draw(st.binary(max_size=200))
        with contextlib.suppress(DecodeError):
            payload.MergeFromString(noise)  # random sub-fields, as a hostile or newer server might send
    return task


def _check(task: baton_pb2.Task) -> None:
    rig = make_rig()
    with structlog.testing.capture_logs() as events:
        asyncio.run(asyncio.wait_for(rig.processor.process(task), timeout=10))
    kind = task.WhichOneof("task_type")
    errors = [e for e in events if e["log_level"] == "error"]
    # Peer input is never a bug of ours: no handler may fail on it with an unexpected exception (a traceback).
    assert [e for e in errors if e["event"] == "task handler raised an unexpected error"] == []
    assert rig.observer.in_flight == 0
    if task_id_problem(task.id) is not None:
        assert rig.client.finish_attempts == 0
        assert rig.connector.provisioning.calls == []
        assert rig.full_sync.runs == []
        assert any(str(e["event"]).startswith("invalid task") for e in errors)
    elif kind == "hello":
        assert rig.hellos == [task.id]
        assert rig.client.finishes == []
    else:
        assert [f.task_id for f in rig.client.finishes] == [task.id]


@pytest.mark.fuzz
@given(tasks())
def test_any_task_is_reported_once_or_logged_and_never_raises(task: baton_pb2.Task) -> None:
    _check(task)


@pytest.mark.fuzz
@given(st.binary(max_size=400))
def test_any_bytes_that_decode_as_a_task_are_handled(data: bytes) -> None:
    try:
        task = baton_pb2.Task.FromString(data)
    except DecodeError:
        return  # grpc fails such a response before it reaches us (an RPC error the poll loop handles)
    _check(task)
