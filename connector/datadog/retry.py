"""The Datadog client's retry policy: the baton backoff policy plus HTTP specifics."""

from __future__ import annotations

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
    `max_attempts` tries in total. A 429 waits for ``X-RateLimit-Reset`` instead and has its own budget,
    because being throttled says nothing about the health of the server.
    """

    max_rate_limit_retries: int = 10
    # Longest single wait for a rate-limit window (X-RateLimit-Reset, Retry-After); beyond it `hint_exceeds_cap`
    # and RateLimited is raised at once, so the caller reschedules instead of a sync sleeping for an hourly
    # window. Shorter than the base policy's: a Datadog call holds a sync or a grant while it waits.
    max_hinted_delay: float = 120.0

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
