"""Counters the client keeps about its own traffic, and the events it reports to an optional hook.

No metrics library is imported here: the daemon turns events into Prometheus series itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

__all__ = [
    "RATE_LIMIT_CAUSES",
    "ClientEvent",
    "ClientStats",
    "EventHook",
    "RateLimitCause",
    "RateLimitWait",
    "RequestDone",
    "RetryScheduled",
    "status_class",
]

RateLimitCause = Literal["pacing", "429"]
"""Why the client waited: its own pacing before a window ran out, or a 429."""
RATE_LIMIT_CAUSES: tuple[RateLimitCause, ...] = get_args(RateLimitCause)


def status_class(status: int | None) -> str:
    """ "2xx".."5xx" (any other class a peer sends under its own, "1xx" or "6xx".."9xx"), or "error" when no response
    arrived."""
    return f"{status // 100}xx" if status else "error"


@dataclass(frozen=True, slots=True)
class RequestDone:
    """One HTTP attempt finished (with a response or a transport error)."""

    group: str
    method: str
    status: int | None
    seconds: float
    attempt: int

    @property
    def status_class(self) -> str:
        return status_class(self.status)


@dataclass(frozen=True, slots=True)
class RateLimitWait:
    """The client slept for a rate-limit window: before exhausting it, or after a 429. Told once the wait is over,
    `seconds` being how long it lasted: less than asked when a stop cut it short (`ratelimit.timed_wait`)."""

    group: str
    limit_name: str | None
    seconds: float
    cause: RateLimitCause


@dataclass(frozen=True, slots=True)
class RetryScheduled:
    group: str
    reason: str
    attempt: int
    delay: float


ClientEvent = RequestDone | RateLimitWait | RetryScheduled
EventHook = Callable[[ClientEvent], None]


@dataclass
class ClientStats:
    """Running totals; read them any time, they are plain values."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0

    def record(self, event: ClientEvent) -> None:
        if isinstance(event, RequestDone):
            self.requests[(event.group, event.status_class)] += 1
        elif isinstance(event, RateLimitWait):
            self.rate_limit_waits += 1
            self.rate_limit_wait_seconds += event.seconds
        else:
            self.retries[event.reason] += 1

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())
