"""The Datadog retry policy as one table: what follows an attempt that did not succeed (`RetryPolicy.decide`).

Each row is one way an attempt can end; its columns say what follows for each kind of call, first with budget left,
then with the budget spent (the attempt was the last `max_attempts` allows, or the 429 the last wait
`max_rate_limit_retries` allows). What follows is one of:

- ``retry``: ask again after a delay (``retry, lost``: an attempt may have reached Datadog with its answer lost, so a
  404 or 409 that follows may be that attempt's own doing);
- ``give up``: the attempt's error is final for the call (``give up, lost``: and it says an attempt may have landed).

The kinds of call: a read (GET), an idempotent write (a grant, a revoke, a disable: the same request twice ends in the
same state), a create (sent twice, made twice), and a mint (a token whose secret is shown once: sent at most once,
docs/spec/credentials.md §4.3).
"""

from __future__ import annotations

import random
import ssl
from dataclasses import dataclass

import httpx
import pytest

from connector.datadog.ratelimit import RateLimitHeaders
from connector.datadog.retry import Answered, Attempts, GiveUp, NoAnswer, Outcome, Retry, RetryPolicy, Unreadable

POLICY = RetryPolicy(max_attempts=5, base_delay=0.5, max_delay=30.0, max_hinted_delay=120.0)

KINDS = {
    "read": Attempts("GET", idempotent=True),
    "write": Attempts("POST", idempotent=True),
    "create": Attempts("POST", idempotent=False),
    "mint": Attempts("POST", idempotent=False, single_attempt=True),
}


def _headers(**values: str) -> RateLimitHeaders | None:
    return RateLimitHeaders.parse({name.replace("_", "-"): value for name, value in values.items()})


def _untrusted() -> httpx.ConnectError:
    refused = httpx.ConnectError("handshake failed")
    refused.__cause__ = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed certificate")
    return refused


DATADOGS = _headers(x_ratelimit_limit="100", x_ratelimit_remaining="0", x_ratelimit_reset="3", x_ratelimit_name="u")

OUTCOMES: dict[str, Outcome] = {
    "connection refused (never sent)": NoAnswer.of(httpx.ConnectError("connection refused")),
    "proxy refused the tunnel (never sent)": NoAnswer.of(httpx.ProxyError("502 Bad Gateway")),
    "no free connection (never sent)": NoAnswer.of(httpx.PoolTimeout("pool")),
    "read timeout (sent)": NoAnswer.of(httpx.ReadTimeout("timed out")),
    "connection cut mid-answer (sent)": NoAnswer.of(httpx.RemoteProtocolError("closed")),
    "untrusted certificate": NoAnswer.of(_untrusted()),
    "2xx body cut or garbled": Unreadable(200, retryable=True),
    "2xx body over the cap or unasked encoding": Unreadable(200, retryable=False),
    "503": Answered(503),
    "503 Retry-After 3 s": Answered(503, _headers(retry_after="3")),
    "503 Retry-After an hour": Answered(503, _headers(retry_after="3600")),
    "502 (a load balancer's)": Answered(502),
    "408 (a proxy's Request Timeout)": Answered(408),
    "501 Not Implemented": Answered(501),
    "404 Datadog's": Answered(404),
    "400 Datadog's": Answered(400),
    "429 Datadog's, reset in 3 s": Answered(429, DATADOGS, datadogs_429=True),
    "429 a gateway's": Answered(429, _headers(retry_after="3")),
    "429 asking for an hour": Answered(429, _headers(retry_after="3600"), datadogs_429=True),
    "503 whose body cannot be read": Unreadable(503, retryable=False),
    "429 Datadog's whose body cannot be read": Unreadable(429, DATADOGS, datadogs_429=True, retryable=False),
    "404 whose body cannot be read": Unreadable(404, retryable=False),
}

R, RL, G, GL = "retry", "retry, lost", "give up", "give up, lost"

# outcome: (read, write, create, mint) with budget left | (read, write, create, mint) with the budget spent
TABLE: dict[str, tuple[tuple[str, str, str, str], tuple[str, str, str, str]]] = {
    # Never left: safe to resend whatever the method, except a mint, sent at most once.
    "connection refused (never sent)": ((R, R, R, G), (G, G, G, G)),
    "proxy refused the tunnel (never sent)": ((R, R, R, G), (G, G, G, G)),
    "no free connection (never sent)": ((R, R, R, G), (G, G, G, G)),
    # May have reached Datadog: resent only when the same request twice does no harm.
    "read timeout (sent)": ((RL, RL, GL, GL), (GL, GL, GL, GL)),
    "connection cut mid-answer (sent)": ((RL, RL, GL, GL), (GL, GL, GL, GL)),
    # Only new trust settings can help.
    "untrusted certificate": ((G, G, G, G), (G, G, G, G)),
    # A read's body that comes cut may come whole; one over the cap comes the same. A write's unreadable answer is a
    # lost answer: asking again lets Datadog's own answer decide.
    "2xx body cut or garbled": ((RL, RL, GL, GL), (GL, GL, GL, GL)),
    "2xx body over the cap or unasked encoding": ((GL, RL, GL, GL), (GL, GL, GL, GL)),
    # A server error: a create may have been made all the same, so only idempotent calls ask again. Asked again or
    # not, the answer was lost (a gateway's 502 or 504 may come after Datadog made the change).
    "503": ((RL, RL, GL, GL), (GL, GL, GL, GL)),
    "503 Retry-After 3 s": ((RL, RL, GL, GL), (GL, GL, GL, GL)),
    # Longer than the longest wait: give up now, the caller reschedules.
    "503 Retry-After an hour": ((GL, GL, GL, GL), (GL, GL, GL, GL)),
    "502 (a load balancer's)": ((RL, RL, GL, GL), (GL, GL, GL, GL)),
    "408 (a proxy's Request Timeout)": ((RL, RL, GL, GL), (GL, GL, GL, GL)),
    # Will not get better by asking again.
    "501 Not Implemented": ((G, G, G, G), (G, G, G, G)),
    "404 Datadog's": ((G, G, G, G), (G, G, G, G)),
    "400 Datadog's": ((G, G, G, G), (G, G, G, G)),
    # Datadog refused it: nothing was done, so even a create waits and asks again (its own budget of waits).
    "429 Datadog's, reset in 3 s": ((R, R, R, G), (G, G, G, G)),
    # A gateway's 429 may come after a create got through: a create is not sent again.
    "429 a gateway's": ((R, R, G, G), (G, G, G, G)),
    "429 asking for an hour": ((G, G, G, G), (G, G, G, G)),
    # A 429's or a server error's body is only the error's words (docs/spec/datadog-api.md §2.4: do not assume a JSON
    # body on 429 or 5xx): one that cannot be read is decided by its status, as if it had been.
    "503 whose body cannot be read": ((RL, RL, GL, GL), (GL, GL, GL, GL)),
    "429 Datadog's whose body cannot be read": ((R, R, R, G), (G, G, G, G)),
    # Any other answer's body is what it says: unread, a write asks again as after any lost answer.
    "404 whose body cannot be read": ((GL, RL, GL, GL), (GL, GL, GL, GL)),
}


@dataclass(frozen=True)
class Row:
    outcome: str
    kind: str
    budget: str
    expected: str


ROWS = [
    Row(outcome, kind, budget, expected)
    for outcome, columns in TABLE.items()
    for budget, expected_by_kind in zip(("left", "spent"), columns, strict=True)
    for kind, expected in zip(KINDS, expected_by_kind, strict=True)
]


def _attempts(kind: str, budget: str, outcome: Outcome) -> Attempts:
    template = KINDS[kind]
    attempts = Attempts(template.method, template.idempotent, template.single_attempt)
    if budget == "spent":
        if isinstance(outcome, Answered) and outcome.status == 429:
            attempts.throttles = POLICY.max_rate_limit_retries
        else:
            attempts.failures = POLICY.max_attempts - 1
    return attempts


def _said(decision: Retry | GiveUp, attempts: Attempts) -> str:
    if isinstance(decision, Retry):
        return RL if attempts.lost else R
    return GL if decision.lost else G


def test_every_outcome_has_its_row() -> None:
    assert set(TABLE) == set(OUTCOMES)


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.outcome} | {r.kind} | budget {r.budget}" for r in ROWS])
def test_the_retry_policy(row: Row) -> None:
    outcome = OUTCOMES[row.outcome]
    attempts = _attempts(row.kind, row.budget, outcome)
    assert _said(POLICY.decide(attempts, outcome, random.Random(1)), attempts) == row.expected


# -- what the table does not show: the delays, the bucket, a loss carried on -------------------------------------


def test_a_retry_after_a_failure_waits_the_full_jitter_backoff_of_that_failure() -> None:
    rng = random.Random(5)
    for failures in range(4):
        attempts = Attempts("GET", idempotent=True, failures=failures)
        decision = POLICY.decide(attempts, Answered(503), rng)
        assert isinstance(decision, Retry)
        assert 0.0 <= decision.delay <= min(POLICY.max_delay, POLICY.base_delay * 2**failures)
        assert (decision.reason, decision.throttled) == ("http_503", False)


def test_a_server_errors_retry_after_is_a_floor_under_the_backoff() -> None:
    decision = POLICY.decide(Attempts("GET", idempotent=True), Answered(503, _headers(retry_after="3")))
    assert isinstance(decision, Retry)
    assert decision.delay >= 3.0


def test_a_429_waits_its_hint_at_least_a_second_and_shuts_the_bucket_as_long() -> None:
    attempts = Attempts("GET", idempotent=True)
    decision = POLICY.decide(attempts, Answered(429, DATADOGS, datadogs_429=True))
    assert decision == Retry(3.0, "429", throttled=True)
    decision = POLICY.decide(attempts, Answered(429, _headers(x_ratelimit_reset="0"), datadogs_429=True))
    assert decision == Retry(1.0, "429", throttled=True)
    # 429s have their own budget: neither counts as a failure.
    assert (attempts.throttles, attempts.failures) == (2, 0)


def test_a_429_given_up_on_still_shuts_the_bucket_unless_it_is_a_gateways_to_a_create() -> None:
    hour = Answered(429, _headers(retry_after="3600"), datadogs_429=True)
    assert POLICY.decide(Attempts("GET", idempotent=True), hour) == GiveUp(lost=False, shut=3600.0)
    mint = Attempts("POST", idempotent=False, single_attempt=True)
    assert POLICY.decide(mint, Answered(429, DATADOGS, datadogs_429=True)) == GiveUp(lost=False, shut=3.0)
    gateway = Answered(429, _headers(retry_after="300"))
    assert POLICY.decide(Attempts("POST", idempotent=False), gateway) == GiveUp(lost=False, shut=None)


def test_a_transport_failure_is_counted_by_its_kind() -> None:
    decision = POLICY.decide(Attempts("GET", idempotent=True), NoAnswer.of(httpx.ConnectError("refused")))
    assert isinstance(decision, Retry)
    assert decision.reason == "ConnectError"
    decision = POLICY.decide(Attempts("PUT", idempotent=True), Unreadable(200, retryable=True))
    assert isinstance(decision, Retry)
    assert decision.reason == "unreadable_body"


@pytest.mark.parametrize(
    "outcome", ["404 Datadog's", "429 a gateway's", "connection refused (never sent)", "501 Not Implemented"]
)
def test_an_earlier_attempts_lost_answer_is_said_when_the_call_gives_up(outcome: str) -> None:
    """A 503 (or a timeout) before: that attempt may have made the change, whatever the last answer says."""
    attempts = Attempts("POST", idempotent=False, single_attempt=True, lost=True)
    decision = POLICY.decide(attempts, OUTCOMES[outcome])
    assert isinstance(decision, GiveUp)
    assert decision.lost
