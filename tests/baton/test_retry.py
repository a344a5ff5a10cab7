"""The one backoff policy (connector/baton/retry.py): delays, hints, scaling and a loop's running state."""

from __future__ import annotations

import random

import pytest

from connector.baton.retry import Backoff, RetryPolicy
from connector.datadog.retry import RetryPolicy as DatadogRetryPolicy


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    rng = random.Random(7)
    for retry, cap in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (10, 8.0), (10_000, 8.0)]:
        delays = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0.0 <= d <= cap for d in delays)
        assert max(delays) > cap / 2  # jitter spreads over the whole range, not a fixed value


def test_a_hint_wins_over_backoff_and_is_capped() -> None:
    policy = RetryPolicy(max_hinted_delay=60.0)
    assert policy.delay(1, hint=12.5) == 12.5
    assert policy.delay(1, hint=3600.0) == 60.0
    assert policy.hint_exceeds_cap(61.0)
    assert not policy.hint_exceeds_cap(60.0)
    assert not policy.hint_exceeds_cap(None)


def test_scaled_shortens_our_delays_but_not_the_server_hint_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0, max_hinted_delay=300.0).scaled(0.01)
    assert (policy.base_delay, policy.max_delay, policy.max_hinted_delay) == (0.01, 0.3, 300.0)
    with pytest.raises(ValueError, match="positive"):
        RetryPolicy().scaled(0)


def test_scaled_keeps_a_subclass_and_its_fields() -> None:
    scaled = DatadogRetryPolicy(max_rate_limit_retries=3, base_delay=2.0).scaled(0.5)
    assert isinstance(scaled, DatadogRetryPolicy)
    assert (scaled.max_rate_limit_retries, scaled.base_delay) == (3, 1.0)


def test_a_429_waits_at_least_a_second_and_a_longer_hint_as_it_is() -> None:
    """Rate-limit headers count whole seconds: a hint under one ("Reset: 0") is "within this second", not "now"."""
    policy = DatadogRetryPolicy(base_delay=0.5, max_delay=30.0, max_hinted_delay=120.0)
    assert [policy.rate_limit_wait(1, hint) for hint in (0.0, 0.25, 0.999)] == [1.0, 1.0, 1.0]
    assert [policy.rate_limit_wait(9, hint) for hint in (1.0, 7.0, 120.0)] == [1.0, 7.0, 120.0]
    # Beyond the cap the hint stays as it is, so the caller is told to give up now rather than wait less.
    assert policy.rate_limit_wait(1, 3600.0) == 3600.0
    assert policy.hint_exceeds_cap(policy.rate_limit_wait(1, 3600.0))
    # No hint: the backoff, as any other retry.
    assert 0.0 <= policy.rate_limit_wait(1, None, random.Random(3)) <= 0.5
    assert DatadogRetryPolicy(min_rate_limit_wait=0.01).rate_limit_wait(1, 0.0) == 0.01
    with pytest.raises(ValueError, match="negative"):
        DatadogRetryPolicy(min_rate_limit_wait=-1.0)


def test_a_bounded_loop_gives_up_when_attempts_are_spent() -> None:
    backoff = Backoff(RetryPolicy(max_attempts=3, base_delay=0.0, max_delay=0.0))
    assert backoff.next_delay() == 0.0
    assert backoff.next_delay() == 0.0
    assert backoff.next_delay() is None


def test_a_bounded_loop_gives_up_at_once_on_a_hint_above_the_cap() -> None:
    backoff = Backoff(RetryPolicy(max_attempts=10, max_hinted_delay=60.0))
    assert backoff.next_delay(hint=3600.0) is None


def test_an_unbounded_loop_never_runs_out_and_resets_on_success() -> None:
    policy = RetryPolicy(max_attempts=1, base_delay=1.0, max_delay=4.0, max_hinted_delay=10.0)
    backoff = Backoff(policy, bounded=False, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(1000)]
    assert all(d is not None and 0.0 <= d <= 4.0 for d in delays)
    assert backoff.next_delay(hint=3600.0) == 10.0
    backoff.reset()
    assert backoff.failures == 0
    first = backoff.next_delay()
    assert first is not None
    assert first <= 1.0
