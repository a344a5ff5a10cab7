"""A GetTask answer that does not decode whole is read as far as it goes (connector/baton/c1/salvage.py).

One bad string or one Struct nested too deep fails the whole answer; read whole or not at all, the task inside
is never reported, and ConductorOne offers it again at every poll.
"""

from __future__ import annotations

from google.protobuf import any_pb2, duration_pb2
from hypothesis import given
from hypothesis import strategies as st

from connector.baton.c1.salvage import PartlyRead, UnreadableTask, decode_get_task, salvage
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.c1.service import GARBAGE
from tests.fakes.tasks import BAD_UTF8_MARK, deep_action_task, grant_task, length_delimited, with_bad_utf8

Response = baton_pb2.BatonServiceGetTaskResponse
PACE = duration_pb2.Duration(seconds=7)


def _answer(task: baton_pb2.Task) -> Response:
    return Response(task=task, next_poll=PACE)


def _salvaged(raw: bytes) -> PartlyRead | UnreadableTask | None:
    """What is read of an answer the parser refuses whole (as the client reads it: `BatonServiceClient.get_task`)."""
    problem = decode_get_task(raw)
    assert isinstance(problem, str), "the parser decodes the answer whole"
    return salvage(raw, problem)


def _read_anyhow(raw: bytes) -> None:
    """Decoded, and read as far as it goes where that fails."""
    problem = decode_get_task(raw)
    if isinstance(problem, str):
        salvage(raw, problem)


def test_a_whole_answer_is_read_as_it_is() -> None:
    answer = _answer(grant_task("role", "r", "member", "u"))
    assert decode_get_task(answer.SerializeToString()) == answer


def test_a_task_with_a_string_of_bad_utf8_is_known_by_its_id_and_type() -> None:
    task = grant_task("role", "r", "member", BAD_UTF8_MARK)
    assert _salvaged(with_bad_utf8(_answer(task))) == UnreadableTask(
        task_id=task.id, task_type="grant", problem="String field had bad UTF-8", next_poll=PACE
    )


def test_a_task_nested_deeper_than_the_parser_goes_is_known_by_its_id_and_type() -> None:
    task_id = grant_task("role", "r", "member", "u").id
    raw = length_delimited(1, deep_action_task(task_id, depth=120))
    read = _salvaged(raw)
    assert isinstance(read, UnreadableTask)
    assert (read.task_id, read.task_type, read.next_poll) == (task_id, "action_invoke", None)
    assert read.problem  # the parser's own words: nothing of the answer's bytes
    # Nested as deep as the parser goes, the same task is read whole.
    assert decode_get_task(length_delimited(1, deep_action_task(task_id, depth=20))) == Response(
        task=baton_pb2.Task.FromString(deep_action_task(task_id, depth=20))
    )


def test_a_whole_task_beside_a_bad_annotation_is_read_and_run() -> None:
    task = grant_task("role", "r", "member", "u")
    answer = _answer(task)
    answer.annotations.append(any_pb2.Any(type_url=BAD_UTF8_MARK))
    read = _salvaged(with_bad_utf8(answer))
    assert read == PartlyRead(_answer(task), "String field had bad UTF-8")


def test_an_idle_answer_with_a_bad_annotation_is_idle() -> None:
    answer = Response(next_poll=PACE, annotations=[any_pb2.Any(type_url=BAD_UTF8_MARK)])
    assert _salvaged(with_bad_utf8(answer)) == PartlyRead(Response(next_poll=PACE), "String field had bad UTF-8")


def test_bytes_whose_framing_does_not_hold_read_as_nothing() -> None:
    assert _salvaged(GARBAGE) is None
    # A task that does not decode, without an id, cannot be reported either.
    grant = baton_pb2.Task.DESCRIPTOR.fields_by_name["grant"].number
    assert _salvaged(length_delimited(1, length_delimited(grant, GARBAGE))) is None


@given(st.binary(max_size=200))
def test_any_bytes_are_read_without_raising(raw: bytes) -> None:
    _read_anyhow(raw)


@given(st.data())
def test_an_answer_cut_or_flipped_anywhere_is_read_without_raising(data: st.DataObject) -> None:
    raw = bytearray(with_bad_utf8(_answer(grant_task("role", "r", "member", BAD_UTF8_MARK))))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] = data.draw(st.integers(0, 255))
    _read_anyhow(bytes(raw[: data.draw(st.integers(0, len(raw)))]))


def test_of_a_repeated_id_the_last_is_read_as_a_parser_would() -> None:
    task_id = grant_task("role", "r", "member", "u").id
    raw = length_delimited(1, length_delimited(1, b"first") + deep_action_task(task_id, depth=120))
    read = _salvaged(raw)
    assert isinstance(read, UnreadableTask)
    assert read.task_id == task_id


def test_framing_no_message_has_reads_as_nothing() -> None:
    task = deep_action_task(grant_task("role", "r", "member", "u").id, depth=120)
    # A field numbered 0 (no message has one) before the task.
    assert _salvaged(length_delimited(0, b"x") + length_delimited(1, task)) is None
    # The task's field with another wire type than a message's (a varint): there is nothing to read it as.
    assert _salvaged(bytes([1 << 3 | 0, 1]) + length_delimited(1, task)) is None
