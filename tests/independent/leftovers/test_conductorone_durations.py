"""Class: a Duration ConductorOne sends (`next_heartbeat`, `next_poll`) read otherwise than Go's SDK reads it:
`durationpb.AsDuration` (seconds and nanos added as they come, saturated at int64), then clamped
(docs/spec/service-mode.md §3.2: `next_poll` to [0, 5 min], unset 0; §3.6: `next_heartbeat` 0 or unset 30 s,
anything else [1 s, 5 min]). A negative `next_heartbeat` gave 30 s; Go beats again after 1 s."""

from __future__ import annotations

import pytest
from google.protobuf import duration_pb2

from connector.baton.c1.durations import clamped_seconds, go_nanoseconds
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.runtime.scheduler import MAX_NEXT_POLL
from connector.baton.tasks.full_sync import _interval

INT64_MAX = 2**63 - 1


def _beat(seconds: int, nanos: int) -> baton_pb2.BatonServiceHeartbeatResponse:
    return baton_pb2.BatonServiceHeartbeatResponse(next_heartbeat=duration_pb2.Duration(seconds=seconds, nanos=nanos))


@pytest.mark.parametrize(
    ("seconds", "nanos", "expected"),
    [
        (-30, 0, 1.0),
        (0, -5, 1.0),  # five nanoseconds below zero: not zero, so clamped up
        (-(2**62), -999_999_999, 1.0),
        (0, 0, 30.0),
        (1, -1_000_000_000, 30.0),  # zero once added, as Go adds them
        (0, 2_000_000_000, 2.0),  # nanos out of range are added as they are
        (3, -2_000_000_000, 1.0),
        (42, 0, 42.0),
        (10**11, 0, 300.0),
        (INT64_MAX, 999_999_999, 300.0),
    ],
)
def test_next_heartbeat_as_go_reads_it(seconds: int, nanos: int, expected: float) -> None:
    assert _interval(_beat(seconds, nanos)) == expected


def test_an_unset_next_heartbeat_is_the_default() -> None:
    assert _interval(baton_pb2.BatonServiceHeartbeatResponse()) == 30.0


@pytest.mark.parametrize(
    ("seconds", "nanos", "expected"),
    [
        (-5, 0, 0.0),
        (0, -1, 0.0),
        (0, 1_500_000_000, 1.5),
        (-1, 2_000_000_000, 1.0),
        (10**11, 0, MAX_NEXT_POLL),
        (INT64_MAX, 999_999_999, MAX_NEXT_POLL),
        (-(2**63), -999_999_999, 0.0),
    ],
)
def test_next_poll_as_go_reads_it(seconds: int, nanos: int, expected: float) -> None:
    assert clamped_seconds(duration_pb2.Duration(seconds=seconds, nanos=nanos), low=0.0, high=MAX_NEXT_POLL) == expected


@pytest.mark.parametrize(
    ("seconds", "nanos", "expected"),
    [
        (2**62, 0, INT64_MAX),  # seconds * 1e9 overflows: saturated by the sign of the seconds
        (-(2**62), 0, -(2**63)),
        (9_223_372_036, 854_775_807, INT64_MAX),  # exactly int64's largest
        (9_223_372_036, 854_775_808, INT64_MAX),  # one past it: the sum overflows
        (5, -7, 4_999_999_993),
    ],
)
def test_go_nanoseconds_saturates_as_as_duration_does(seconds: int, nanos: int, expected: int) -> None:
    assert go_nanoseconds(duration_pb2.Duration(seconds=seconds, nanos=nanos)) == expected
