"""Durations from ConductorOne (`next_poll`, `next_heartbeat`) as clamped seconds.

A Duration is untrusted input: seconds up to ±10^11 years' worth, nanos of the wrong sign or out of range.
`Duration.ToTimedelta()` raises OverflowError on the large ones; this never raises.
"""

from __future__ import annotations

import math

from google.protobuf import duration_pb2


def clamped_seconds(duration: duration_pb2.Duration, *, low: float, high: float) -> float:
    """`duration` in seconds, clamped to [low, high] (invalid sign or nanos combinations included)."""
    seconds = float(duration.seconds) + duration.nanos / 1e9
    if math.isnan(seconds):  # pragma: no cover - ints cannot make NaN; kept for the contract
        return low
    return min(high, max(low, seconds))
