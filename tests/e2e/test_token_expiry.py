"""Short-lived access tokens: the daemon keeps working across many token lifetimes without failing a task.

Two ways a token runs out: ConductorOne says so up front (`expires_in` 3 s: the daemon must refresh ahead of
time), or it stops honouring a token it advertised for an hour (a revocation or a skewed clock: the daemon
must notice the UNAUTHENTICATED, fetch a new token and repeat the call, uploads included).

Each task is followed by a token renewal (an event the fake records, not a pause), so the tasks span several
token lifetimes; the server-side lifetime is one second so that takes seconds, not a minute.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.harness import ACT_TIMEOUT, Stack, assert_success, only_finish, wait_finished
from tests.fakes.c1 import FakeC1
from tests.fakes.tasks import kind_task

LIFETIME = 1.0
"""Seconds the fake honours a token it advertised for an hour."""
TASKS = 4


def renewed(issued: int, c1: FakeC1) -> Callable[[], bool]:
    """True once the fake has issued more than `issued` tokens."""
    return lambda: c1.recorded().tokens_issued > issued


@pytest.mark.parametrize(
    ("expires_in", "lifetime"),
    [pytest.param(3, None, id="advertised-3s"), pytest.param(3600, LIFETIME, id="rejected-after-1s")],
)
def test_tasks_keep_succeeding_across_token_lifetimes(stack: Stack, expires_in: int, lifetime: float | None) -> None:
    c1 = stack.c1
    c1.set_token_expiry(expires_in, lifetime)
    daemon = stack.start()
    tasks = []
    for _ in range(TASKS):
        # Full syncs: each is a burst of authenticated calls (heartbeat, upload stream, FinishTask).
        task = kind_task("sync_full")
        c1.enqueue(task)
        tasks.append(task)
        wait_finished(daemon, c1, [task.id], timeout=ACT_TIMEOUT)
        # The next task runs on a token the daemon has not used yet: it keeps polling meanwhile, and each poll
        # after the token ran out (or was refused) makes it fetch a new one.
        daemon.wait_for(renewed(c1.recorded().tokens_issued, c1), timeout=ACT_TIMEOUT, what="a renewed access token")

    recorded = c1.recorded()
    for task in tasks:
        assert_success(only_finish(recorded, task.id))
        assert sum(1 for u in recorded.uploads if u.task_id == task.id and u.ok) == 1
    assert recorded.tokens_issued > 1, "the daemon kept using one token past its lifetime"
    assert all(r.ok for r in recorded.token_requests), [r.reason for r in recorded.token_requests if not r.ok]
    daemon.wait_no_task_in_flight()  # counted once FinishTask's answer is back: read before, the last sync was not yet
    assert daemon.metric("baton_datadog_tasks_finished_total", type="sync_full", outcome="failed_final") == 0
    if lifetime is not None:
        # Tokens looked valid to the daemon for an hour: only the server's UNAUTHENTICATED can have refreshed them.
        rejected = [c for c in recorded.calls if c.code == "UNAUTHENTICATED"]
        assert rejected, "expected calls with an expired token to be refused and retried"
        assert daemon.wait_logged("c1 rejected the access token, fetching a new one")
    assert daemon.alive()
    assert daemon.status("/readyz") == 200
