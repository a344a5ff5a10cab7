"""The one backoff policy: bounded attempts, exponential delay with full jitter, upstream hints honoured.

The sync engine retries connector calls with it; the Datadog client extends it with what is specific to
HTTP (which statuses and transport errors are worth a retry, a separate budget for 429s).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


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
        ceiling = min(self.max_delay, self.base_delay * (2**retry))
        return (rng or random).uniform(0.0, ceiling)

    def delay(self, attempt: int, hint: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based); a server hint wins over backoff."""
        if hint is not None and hint >= 0:
            return min(hint, self.max_hinted_delay)
        return self.backoff(attempt - 1, rng)

    def should_retry(self, attempt: int) -> bool:
        """Whether another attempt may follow attempt number `attempt` (1-based)."""
        return attempt < self.max_attempts
