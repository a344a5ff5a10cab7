"""Client-side pacing from Datadog's ``X-RateLimit-*`` headers.

Datadog limits per org and per named bucket (``X-RateLimit-Name``); several endpoints may share a
bucket. Each response says how many requests are left in the current window and how many seconds
until it resets. The limiter keeps a local estimate per bucket, counting requests still in flight
(the server has not seen them yet, so its ``Remaining`` does not include them), and holds a request
back until the reset when the estimate reaches zero. A 429 only happens if someone else spends the
same org's budget.

Until the first response of an endpoint group reveals its bucket, only one request of that group
is let through: a burst of first requests could otherwise overrun a small limit.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

__all__ = ["RateLimitHeaders", "RateLimiter", "Ticket", "WaitTooLong"]


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    limit: int | None
    period: float | None
    remaining: int | None
    reset: float | None
    name: str | None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> RateLimitHeaders | None:
        def number(key: str) -> float | None:
            raw = headers.get(key)
            try:
                value = float(raw) if raw is not None else None
            except ValueError:
                return None
            return value if value is not None and math.isfinite(value) and value >= 0 else None

        limit, period = number("x-ratelimit-limit"), number("x-ratelimit-period")
        remaining, reset = number("x-ratelimit-remaining"), number("x-ratelimit-reset")
        name = headers.get("x-ratelimit-name") or None
        if limit is None and remaining is None and reset is None:
            return None
        return cls(
            limit=int(limit) if limit is not None else None,
            period=period,
            remaining=int(remaining) if remaining is not None else None,
            reset=reset,
            name=name,
        )


@dataclass
class _Bucket:
    limit: int | None = None
    period: float | None = None
    remaining: int | None = None
    reset_at: float | None = None
    in_flight: int = 0


@dataclass(frozen=True, slots=True)
class Ticket:
    """Admission of one request; hand it back to `RateLimiter.release`."""

    group: str
    bucket: str | None
    waited: float


class WaitTooLong(Exception):
    """The window resets later than the caller is willing to wait; the client turns it into RateLimited."""

    def __init__(self, wait: float, bucket: str | None) -> None:
        super().__init__(f"rate limit window resets in {wait:.1f}s")
        self.wait = wait
        self.bucket = bucket


class RateLimiter:
    def __init__(
        self,
        *,
        max_wait: float,
        on_wait: Callable[[str, str | None, float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._max_wait = max_wait
        self._on_wait = on_wait
        self._clock = clock
        self._sleep = sleep
        self._buckets: dict[str, _Bucket] = {}
        self._bucket_of_group: dict[str, str] = {}
        self._probes: dict[str, asyncio.Event] = {}

    async def acquire(self, group: str) -> Ticket:
        waited = 0.0
        while True:
            name = self._bucket_of_group.get(group)
            if name is None:
                probe = self._probes.get(group)
                if probe is None:
                    self._probes[group] = asyncio.Event()
                    return Ticket(group, None, waited)
                await probe.wait()
                continue
            bucket = self._buckets[name]
            delay = self._delay_needed(bucket)
            if delay <= 0:
                if bucket.remaining is not None:
                    bucket.remaining -= 1
                bucket.in_flight += 1
                return Ticket(group, name, waited)
            if delay > self._max_wait:
                raise WaitTooLong(delay, name)
            if self._on_wait is not None:
                self._on_wait(group, name, delay)
            waited += delay
            await self._sleep(delay)

    def _delay_needed(self, bucket: _Bucket) -> float:
        now = self._clock()
        if bucket.reset_at is not None and now >= bucket.reset_at:
            # The window rolled over: Datadog's windows are calendar-aligned, so the next one ends
            # a whole number of periods later.
            if bucket.period:
                periods = math.floor((now - bucket.reset_at) / bucket.period) + 1
                bucket.reset_at += periods * bucket.period
            else:
                bucket.reset_at = None
            bucket.remaining = None if bucket.limit is None else bucket.limit - bucket.in_flight
        if bucket.remaining is None or bucket.remaining > 0 or bucket.reset_at is None:
            return 0.0
        return bucket.reset_at - now

    def release(self, ticket: Ticket, headers: Mapping[str, str] | None, *, throttled: bool = False) -> None:
        """Account for a finished request; `headers` is None when no response arrived."""
        if ticket.bucket is not None:
            self._buckets[ticket.bucket].in_flight -= 1
        info = RateLimitHeaders.parse(headers) if headers is not None else None
        if info is not None:
            name = info.name or f"group:{ticket.group}"
            bucket = self._buckets.setdefault(name, _Bucket())
            self._bucket_of_group[ticket.group] = name
            bucket.limit = info.limit if info.limit is not None else bucket.limit
            bucket.period = info.period if info.period is not None else bucket.period
            if info.reset is not None:
                bucket.reset_at = self._clock() + info.reset
            if throttled:
                bucket.remaining = 0
            elif info.remaining is not None:
                bucket.remaining = info.remaining - bucket.in_flight
        elif headers is not None and ticket.group not in self._bucket_of_group:
            # No rate-limit headers on this endpoint: nothing to pace, stop probing one by one.
            self._bucket_of_group[ticket.group] = f"group:{ticket.group}"
            self._buckets.setdefault(f"group:{ticket.group}", _Bucket())
        if ticket.bucket is None:
            probe = self._probes.pop(ticket.group, None)
            if probe is not None:
                probe.set()

    def throttle(self, group: str, reset: float) -> None:
        """Record a 429 that carried no usable headers: hold the group back for `reset` seconds."""
        name = self._bucket_of_group.setdefault(group, f"group:{group}")
        bucket = self._buckets.setdefault(name, _Bucket())
        bucket.remaining = 0
        bucket.reset_at = self._clock() + reset
