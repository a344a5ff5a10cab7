"""The Datadog client's retry policy: the baton backoff policy plus HTTP specifics."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from connector.baton.retry import RetryPolicy as BaseRetryPolicy
from connector.datadog.errors import is_certificate_failure

__all__ = ["RetryPolicy"]

# 501/505 will not get better by asking again. A 408 (a proxy's or a load balancer's Request Timeout: the request did
# not arrive whole in time) may be asked again (RFC 9110 §15.5.9).
_RETRYABLE_STATUSES = frozenset(range(500, 600)) - {501, 505} | {408}


@dataclass(frozen=True, slots=True)
class RetryPolicy(BaseRetryPolicy):
    """The baton backoff policy, plus what is specific to HTTP.

    Server errors (and 408s), timeouts and connection failures back off exponentially with full jitter for at most
    `max_attempts` tries in total. A 429 waits for ``X-RateLimit-Reset`` instead (at least a second,
    `rate_limit_wait`) and has its own budget, because being throttled says nothing about the health of the server.
    """

    max_rate_limit_retries: int = 10
    # Longest single wait for a rate-limit window (X-RateLimit-Reset, Retry-After); beyond it `hint_exceeds_cap`
    # and RateLimited is raised at once, so the caller reschedules instead of a sync sleeping for an hourly
    # window. Shorter than the base policy's: a Datadog call holds a sync or a grant while it waits.
    max_hinted_delay: float = 120.0
    # The least wait after a 429 that carried a hint. X-RateLimit-Reset and Retry-After count whole seconds
    # (docs/spec/datadog-api.md §3), so a hint under one second ("0") says the window resets within this second, not
    # "ask again now": taken at its word, the 10 waits were spent back to back within milliseconds, and a call failed
    # with RateLimited on a window about to reset.
    min_rate_limit_wait: float = 1.0

    def __post_init__(self) -> None:
        # Explicitly named: a slotted dataclass has no `__class__` cell for a bare `super()`.
        BaseRetryPolicy.__post_init__(self)
        if self.min_rate_limit_wait < 0:
            raise ValueError("delays must not be negative")

    def rate_limit_wait(self, throttle: int, hint: float | None, rng: random.Random | None = None) -> float:
        """Seconds to wait after 429 number `throttle` (1-based) before asking again.

        The server's hint, as it is, but never less than `min_rate_limit_wait`; without a hint, the backoff. A hint
        longer than `max_hinted_delay` is returned as it is: `hint_exceeds_cap` then says "give up now".
        """
        if hint is None:
            return self.backoff(throttle - 1, rng)
        return max(hint, self.min_rate_limit_wait)

    @staticmethod
    def retryable_status(status: int) -> bool:
        return status in _RETRYABLE_STATUSES

    @staticmethod
    def retryable_exception(exc: BaseException, *, idempotent: bool) -> bool:
        """Whether a transport failure may be retried.

        A request that never left (refused connection, connect timeout, no free pool slot) is safe
        to resend whatever its method. One that may have reached Datadog is only resent when the
        call is idempotent, so a create is never duplicated by a read timeout. A proxy that would not open the
        tunnel never passed the request on either. An untrusted certificate is not retried: only a change of
        the trust settings can help, and each attempt would only delay saying so.
        """
        if isinstance(exc, httpx.ConnectError) and is_certificate_failure(exc):
            return False
        if RetryPolicy.never_sent(exc):
            return True
        return idempotent and isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)

    @staticmethod
    def never_sent(exc: BaseException) -> bool:
        """Whether a transport failure certainly kept the request from Datadog: no connection, no free pool slot, or a
        proxy that would not open the tunnel."""
        return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ProxyError)
