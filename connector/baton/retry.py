"""The one backoff policy: bounded attempts, exponential delay with full jitter, upstream hints honoured.

Every retry loop of the project uses it: the Datadog HTTP layer (`connector.datadog.retry` adds what is
specific to HTTP; it is the one owner of Datadog retries, so the sync engine never retries on top of it) and the
ConductorOne loops (Hello, polling, FinishTask, upload; a token fetch is retried by the loop whose call needed
the token). `RetryPolicy` is the stateless rule; `Backoff` is
one loop's running count of failures under it.

`scaled()` shortens every delay by one factor (BATON_BACKOFF_SCALE, docs/service-mode.md): tests run long fault
scenarios in seconds through it, without a different code path.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    # A server-given wait (rate-limit reset) above this is treated as "give up now" rather than stalling.
    max_hinted_delay: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_hinted_delay < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """Full-jitter delay before retry number `retry` (0 for the first retry): uniform in [0, cap]."""
        # The exponent is bounded so that a loop that has failed for days cannot overflow a float.
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(max(retry, 0), 62)))
        return (rng or random).uniform(0.0, ceiling)

    def delay(self, attempt: int, hint: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): a server hint (up to `max_hinted_delay`)
        when it is the longer, never less than the backoff (a hint of 0 from a broken server must not make a loop
        spin)."""
        backoff = self.backoff(attempt - 1, rng)
        if hint is not None and hint >= 0:
            return max(backoff, min(hint, self.max_hinted_delay))
        return backoff

    def should_retry(self, attempt: int) -> bool:
        """Whether another attempt may follow attempt number `attempt` (1-based)."""
        return attempt < self.max_attempts

    def hint_exceeds_cap(self, hint: float | None) -> bool:
        """A server asked for a wait longer than this policy will sit out: a bounded caller gives up now."""
        return hint is not None and hint > self.max_hinted_delay

    def scaled(self, factor: float) -> Self:
        """The same policy with `base_delay` and `max_delay` multiplied by `factor` (> 0).

        Server hints and their cap are not scaled: they are the peer's words, not our pacing. Subclasses keep
        their own fields.
        """
        if not factor > 0:
            raise ValueError("the backoff scale must be positive")
        return dataclasses.replace(self, base_delay=self.base_delay * factor, max_delay=self.max_delay * factor)


class Backoff:
    """One retry loop's state under a `RetryPolicy`.

    Bounded (the default): `next_delay` answers None once `max_attempts` attempts failed, or when a server hint
    is longer than `max_hinted_delay` — the caller gives up now and its own caller decides (a sync fails
    retryably, ConductorOne reschedules it).

    Unbounded: for loops that end only by success or by the process stopping (Hello at start-up, polling,
    reporting a task). Attempts never run out; a long hint is waited out up to `max_hinted_delay`. There is no
    attempt-count sentinel: the caller's stop event is the bound.
    """

    def __init__(self, policy: RetryPolicy, *, bounded: bool = True, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.bounded = bounded
        self.failures = 0
        self._rng = rng

    def next_delay(self, hint: float | None = None) -> float | None:
        """Count one failed attempt; the seconds to wait before the next, or None to give up."""
        self.failures += 1
        if self.bounded and (not self.policy.should_retry(self.failures) or self.policy.hint_exceeds_cap(hint)):
            return None
        return self.policy.delay(self.failures, hint, self._rng)

    def reset(self) -> None:
        """The call succeeded: the next failure starts again from the shortest delay."""
        self.failures = 0
