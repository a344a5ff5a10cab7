"""The Datadog client's retry policy: the baton backoff policy plus HTTP specifics, and the one decision of what follows
an attempt that did not succeed (`RetryPolicy.decide`). The transport's loop only carries the decision out."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

from connector.baton.retry import RetryPolicy as BaseRetryPolicy
from connector.datadog.errors import is_certificate_failure
from connector.datadog.ratelimit import RateLimitHeaders

__all__ = ["Answered", "Attempts", "GiveUp", "NoAnswer", "Outcome", "Retry", "RetryPolicy", "Unreadable"]

# 501/505 will not get better by asking again. A 408 (a proxy's or a load balancer's Request Timeout: the request did
# not arrive whole in time) may be asked again (RFC 9110 §15.5.9), by idempotent calls only, whatever its body: one
# shaped like Datadog's JSON error comes from its front end and from JSON:API proxies too, and an intermediary's idle
# timeout answers 408 after it forwarded the request, so a create answered 408 may have landed (docs/service-mode.md,
# "Datadog failures").
_RETRYABLE_STATUSES = frozenset(range(500, 600)) - {501, 505} | {408}


@dataclass(frozen=True, slots=True)
class NoAnswer:
    """The attempt ended without an answer: a transport failure."""

    # What it is counted as in the retry counters (the exception's type name: `ConnectError`, `ReadTimeout`).
    kind: str
    # Whether the request may have reached Datadog: False only when it certainly never left (`RetryPolicy.never_sent`).
    sent: bool
    # Whether asking again may help at all: not after an untrusted certificate, nor an error of our own making.
    transient: bool = True

    @classmethod
    def of(cls, exc: BaseException) -> NoAnswer:
        certificate = isinstance(exc, httpx.ConnectError) and is_certificate_failure(exc)
        transient = isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError)
        never_sent = RetryPolicy.never_sent(exc)
        return cls(type(exc).__name__, sent=not never_sent, transient=not certificate and (transient or never_sent))


@dataclass(frozen=True, slots=True)
class Answered:
    """The attempt was answered with a status other than 2xx."""

    status: int
    # Its `X-RateLimit-*` and `Retry-After` headers, as the one parser of them reads them.
    rate_limit: RateLimitHeaders | None = None
    # A 429 with Datadog's JSON error body or its rate-limit headers (`errors.is_datadogs_429`), not a gateway's.
    datadogs_429: bool = False


@dataclass(frozen=True, slots=True)
class Unreadable(Answered):
    """The status line arrived but the body could not be read whole (too large, an encoding not asked for, cut short or
    garbled); `status` may be a 2xx. A 429's or a server error's is decided by its status (`judged_by_status`)."""

    # Whether the same answer may come whole next time (a cut or garbled stream may not recur; a body over the cap or
    # in an encoding we never asked for will come the same).
    retryable: bool = False


Outcome = NoAnswer | Answered


@dataclass(slots=True)
class Attempts:
    """One call's attempts so far, as the decision counts them."""

    method: str
    idempotent: bool
    # Sent at most once, not even resent after a 429 or a refused connection (a minted token, docs/spec/credentials.md
    # §4.3).
    single_attempt: bool = False
    # Attempts that failed (no answer, an unreadable body, a status other than 2xx and 429), and 429s waited for.
    failures: int = 0
    throttles: int = 0
    # Whether an attempt may have reached Datadog without its answer reaching us (no answer after it was sent, an
    # answer that cannot be read, a server error): a 404 or 409 after it may be that attempt's own doing, and a write's
    # failure says it may have landed (`errors.lost_answer`), whether the lost answer was the last or not.
    lost: bool = False

    @property
    def read(self) -> bool:
        return self.method.upper() == "GET"


@dataclass(frozen=True, slots=True)
class Retry:
    """Ask again after `delay` seconds."""

    delay: float
    # What the retry is counted as (`RetryScheduled.reason`): `http_503`, `unreadable_body`, `ConnectError`; "429" for
    # a rate-limit wait.
    reason: str
    # A 429's wait: the group's rate-limit bucket is shut as long, and the wait is a `RateLimitWait`, not a retry.
    throttled: bool = False


@dataclass(frozen=True, slots=True)
class GiveUp:
    """Raise the attempt's error, final for this call."""

    # Whether an attempt (this one or an earlier) may have reached Datadog with its answer lost.
    lost: bool
    # A Datadog 429 given up on: the group's bucket is shut this long all the same.
    shut: float | None = None


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

    def decide(self, attempts: Attempts, outcome: Outcome, rng: random.Random | None = None) -> Retry | GiveUp:
        """What follows an attempt that ended with `outcome` (anything but a 2xx read whole): ask again, or give up.
        `attempts` counts it (failures, throttles, and whether an answer may have been lost)."""
        if isinstance(outcome, NoAnswer):
            return self._after_no_answer(attempts, outcome, rng)
        if isinstance(outcome, Unreadable) and not self.judged_by_status(outcome.status):
            return self._after_unreadable(attempts, outcome, rng)
        if outcome.status == 429:
            return self._after_429(attempts, outcome, rng)
        return self._after_status(attempts, outcome, rng)

    def _may_ask_again(self, attempts: Attempts) -> bool:
        return not attempts.single_attempt and self.should_retry(attempts.failures)

    def _after_no_answer(self, attempts: Attempts, outcome: NoAnswer, rng: random.Random | None) -> Retry | GiveUp:
        # A request that never left is safe to resend whatever its method; one that may have reached Datadog only when
        # the call is idempotent, so a create is never duplicated by a read timeout.
        attempts.failures += 1
        attempts.lost = attempts.lost or outcome.sent
        if outcome.transient and (attempts.idempotent or not outcome.sent) and self._may_ask_again(attempts):
            return Retry(self.backoff(attempts.failures - 1, rng), outcome.kind)
        return GiveUp(attempts.lost)

    def _after_unreadable(self, attempts: Attempts, outcome: Unreadable, rng: random.Random | None) -> Retry | GiveUp:
        # A write's answer that cannot be read is a lost answer: the write may have been made, and only asking again
        # lets Datadog's own answer decide. An oversized answer to a role grant that had landed ended the task "failed
        # for good", the role held. A read's body of the same kind would only come again.
        attempts.failures += 1
        attempts.lost = True
        again = outcome.retryable or not attempts.read
        if again and attempts.idempotent and self._may_ask_again(attempts):
            return Retry(self.backoff(attempts.failures - 1, rng), "unreadable_body")
        return GiveUp(attempts.lost)

    @staticmethod
    def shuts_bucket(*, idempotent: bool, datadogs_429: bool) -> bool:
        """Whether a 429 shuts its group's rate-limit bucket (and may be waited for): any but a gateway's to a create
        (`_after_429`)."""
        return idempotent or datadogs_429

    def _after_429(self, attempts: Attempts, outcome: Answered, rng: random.Random | None) -> Retry | GiveUp:
        if not self.shuts_bucket(idempotent=attempts.idempotent, datadogs_429=outcome.datadogs_429):
            # Not Datadog's own 429 (neither its JSON error body nor its rate-limit headers): a gateway's or a proxy's,
            # which may have answered after the request got through, as for any 4xx without Datadog's body
            # (`errors.nothing_done`). Resent, a create that had landed was made twice: a credential minted again past
            # its duplicate check, the first left live and untraced. Given up on, for the caller to look up what it may
            # have made; the bucket is not shut by its hint, so that look-up goes out now rather than failing at once
            # on a gateway's `Retry-After: 300`.
            return GiveUp(attempts.lost)
        attempts.throttles += 1
        hint = outcome.rate_limit.wait_hint if outcome.rate_limit is not None else None
        wait = self.rate_limit_wait(attempts.throttles, hint, rng)
        # The group's bucket stays shut for as long as this request waits: other requests of the group would spend the
        # same second on 429s of their own. "Give up now" beyond the budget or the longest wait: the error carries the
        # hint so the caller can reschedule the whole job; an earlier attempt's lost answer (a 503 before this 429)
        # still says the write may have landed.
        if attempts.single_attempt or attempts.throttles > self.max_rate_limit_retries or self.hint_exceeds_cap(wait):
            return GiveUp(attempts.lost, shut=wait)
        return Retry(wait, "429", throttled=True)

    def _after_status(self, attempts: Attempts, outcome: Answered, rng: random.Random | None) -> Retry | GiveUp:
        # A 5xx on a create may still have created the object, so only idempotent calls retry it. A 503's Retry-After
        # (RFC 9110 §10.2.3) is a floor under the backoff: asking sooner only adds load to a server that said when it
        # expects to be back. Beyond the longest wait, give up now. Such an answer (a gateway's 502 or 504 after Datadog
        # made the change, too) is a lost answer whether it is asked again or not.
        attempts.failures += 1
        attempts.lost = attempts.lost or self.retryable_status(outcome.status)
        if attempts.idempotent and self._may_ask_again(attempts) and self.retryable_status(outcome.status):
            hint = outcome.rate_limit.retry_after if outcome.rate_limit is not None else None
            if hint is None or not self.hint_exceeds_cap(hint):
                delay = self.backoff(attempts.failures - 1, rng)
                return Retry(delay if hint is None else max(delay, hint), f"http_{outcome.status}")
        return GiveUp(attempts.lost)

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
    def judged_by_status(status: int) -> bool:
        """Whether an answer of `status` is decided by its status and headers alone, whether its body could be read or
        not: a 429 or a server error (docs/spec/datadog-api.md §2.4: "Do not assume a JSON body on 429 or 5xx"; it is
        only the error's words). Taken as an unreadable body, a read's 503 or 429 in an encoding not asked for (a load
        balancer's page) was final at once, not retried nor waited for, and failed the sync for good."""
        return status == 429 or RetryPolicy.retryable_status(status)

    @staticmethod
    def never_sent(exc: BaseException) -> bool:
        """Whether a transport failure certainly kept the request from Datadog: no connection, no free pool slot, or a
        proxy that would not open the tunnel."""
        return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.ProxyError)
