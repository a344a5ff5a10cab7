"""The single retry policy of the Datadog client."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

__all__ = ["RetryPolicy"]

# 501/505 will not get better by asking again.
_RETRYABLE_5XX = frozenset(range(500, 600)) - {501, 505}


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry.

    Server errors, timeouts and connection failures back off exponentially with full jitter
    (a uniform wait in ``[0, min(max_delay, base_delay * 2**retry)]``) for at most `max_attempts`
    tries in total. A 429 waits for ``X-RateLimit-Reset`` instead and has its own budget, because
    being throttled says nothing about the health of the server.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_rate_limit_retries: int = 10
    # Longest single wait for a rate-limit window; beyond it RateLimited is raised so the caller
    # can reschedule instead of a sync sleeping for an hourly window.
    max_rate_limit_wait: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_rate_limit_wait < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, retry: int, rng: random.Random) -> float:
        """Delay before retry number `retry` (0 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * (2**retry))
        return rng.uniform(0.0, ceiling)

    @staticmethod
    def retryable_status(status: int) -> bool:
        return status in _RETRYABLE_5XX

    @staticmethod
    def retryable_exception(exc: BaseException, *, idempotent: bool) -> bool:
        """Whether a transport failure may be retried.

        A request that never left (refused connection, connect timeout, no free pool slot) is safe
        to resend whatever its method. One that may have reached Datadog is only resent when the
        call is idempotent, so a create is never duplicated by a read timeout.
        """
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
            return True
        return idempotent and isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)
