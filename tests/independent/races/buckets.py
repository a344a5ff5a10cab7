"""A rate-limit bucket's answers as Datadog words them (docs/spec/datadog-api.md §3), for the races on one bucket:
`BUCKET` is its `X-RateLimit-Name`, a window of 100 requests a minute resetting in 50 s."""

from __future__ import annotations

from collections.abc import Callable, Coroutine

import httpx

from connector.datadog.client import DatadogClient
from connector.datadog.ratelimit import RateLimiter
from tests.datadog.helpers import FakeTime, answer
from tests.independent.races.heldtime import HeldTime

BUCKET = "bucket"


def paced(remaining: int) -> dict[str, str]:
    """A 2xx's rate-limit headers, `remaining` left in the window."""
    return {
        "x-ratelimit-limit": "100",
        "x-ratelimit-period": "60",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": "50",
        "x-ratelimit-name": BUCKET,
    }


def refusal(retry_after: int) -> dict[str, str]:
    """A 429's: ask again in `retry_after` seconds."""
    return {"retry-after": str(retry_after), "x-ratelimit-name": BUCKET}


async def known_to_roles() -> tuple[RateLimiter, FakeTime]:
    """A limiter on a fake clock whose `roles` group knows the bucket (its first answer came, 90 left): its requests go
    out together. Any other group has sent nothing yet."""
    time = FakeTime()
    limiter = RateLimiter(max_wait=120, clock=time.clock, sleep=time.sleep)
    answer(limiter, await limiter.acquire("roles"), paced(90))
    return limiter, time


def client_on(
    handler: Callable[[httpx.Request], Coroutine[None, None, httpx.Response]], time: HeldTime
) -> DatadogClient:
    """A Datadog client answered in process by `handler` (each answer may wait on the test's gates), on `time`."""
    return DatadogClient(
        api_key="a" * 32,
        app_key="b" * 40,
        base_url="https://dd.example",
        transport=httpx.MockTransport(handler),
        sleep=time.sleep,
        clock=time.clock,
    )
