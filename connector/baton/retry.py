"""The one backoff policy: bounded attempts, exponential delay with full jitter, upstream hints honoured."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 60.0
    # A server-given wait (rate-limit reset) above this is treated as "give up now" rather than stalling.
    max_hinted_delay: float = 300.0

    def delay(self, attempt: int, hint: float | None = None, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based); a server hint wins over the backoff."""
        if hint is not None and hint >= 0:
            return min(hint, self.max_hinted_delay)
        ceiling = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return (rng or random).uniform(0, ceiling)

    def should_retry(self, attempt: int) -> bool:
        """Whether another attempt may follow attempt number `attempt` (1-based)."""
        return attempt < self.max_attempts
