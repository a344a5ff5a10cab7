"""Durations from ConductorOne (`next_poll`, `next_heartbeat`) as Go's SDK reads them, in seconds.

A Duration is untrusted input: seconds up to ±10^11 years' worth, nanos of the wrong sign or out of range.
`Duration.ToTimedelta()` raises OverflowError on the large ones; this never raises. Go reads every one with
`durationpb.AsDuration` (`go_nanoseconds`), then clamps it (docs/spec/service-mode.md §3.2, §3.6).
"""

from __future__ import annotations

from google.protobuf import duration_pb2

__all__ = ["clamped_seconds", "go_nanoseconds", "heartbeat_seconds"]

_NANOS = 1_000_000_000
_MIN_INT64, _MAX_INT64 = -(2**63), 2**63 - 1

DEFAULT_HEARTBEAT = 30.0
MIN_HEARTBEAT, MAX_HEARTBEAT = 1.0, 300.0


def go_nanoseconds(duration: duration_pb2.Duration) -> int:
    """`duration` as Go's `AsDuration` makes it: seconds and nanos added as they are (nanos out of range or of the
    other sign included), saturated at int64's bounds by the sign of the seconds when the seconds overflow."""
    seconds, nanos = duration.seconds, duration.nanos
    total = seconds * _NANOS + nanos
    if total > _MAX_INT64 or total < _MIN_INT64 or not _MIN_INT64 <= seconds * _NANOS <= _MAX_INT64:
        # Go's overflow check is on seconds * 1e9 and on the sum; either way the result saturates by the sign of the
        # seconds (0 seconds cannot overflow: nanos is an int32).
        return _MAX_INT64 if seconds > 0 else _MIN_INT64
    return total


def clamped_seconds(duration: duration_pb2.Duration, *, low: float, high: float) -> float:
    """`duration` in seconds, as Go reads it (`go_nanoseconds`), clamped to [low, high]."""
    return min(high, max(low, go_nanoseconds(duration) / _NANOS))


def heartbeat_seconds(duration: duration_pb2.Duration | None) -> float:
    """The pause before the next Heartbeat, from the last answer's `next_heartbeat`: unset or exactly zero is the
    default 30 s; anything else, negative included, is clamped to [1 s, 5 min] (docs/spec/service-mode.md §3.6).
    A negative one was taken for unset (30 s) where Go's SDK beats again after 1 s."""
    if duration is None:
        return DEFAULT_HEARTBEAT
    nanoseconds = go_nanoseconds(duration)
    if nanoseconds == 0:
        return DEFAULT_HEARTBEAT
    return min(MAX_HEARTBEAT, max(MIN_HEARTBEAT, nanoseconds / _NANOS))
