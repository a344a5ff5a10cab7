"""/readyz means "connected to ConductorOne" (issue 9 §2), as the kubelet sees it from outside the process.

Ready only after the first successful Hello and while ConductorOne was reached within the window
(max(BATON_READY_WINDOW_SECONDS, 3 x poll interval)); 503 during an outage, 200 again after it, without a
restart. `/healthz` stays 200 throughout. A wrong client secret never becomes ready, so a rolling update with
it keeps the old pod. BATON_BACKOFF_SCALE shortens the retry delays, so this runs in seconds.
"""

from __future__ import annotations

import json
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.e2e.harness import ACT_TIMEOUT, Stack, assert_success, finishes, only_finish, wait_finished
from tests.e2e.test_config_and_secrets import PREFIX, _b64, _jwk
from tests.fakes.tasks import grant_task, kind_task

FAST = {"BATON_READY_WINDOW_SECONDS": "1", "BATON_BACKOFF_SCALE": "0.02"}


def test_ready_then_not_ready_during_an_outage_then_ready_again(stack: Stack) -> None:
    daemon = stack.start(FAST)
    assert daemon.status("/readyz") == 200
    before = daemon.metric("baton_datadog_conductorone_last_success_timestamp_seconds")
    assert before is not None
    assert before > time.time() - 60

    stack.c1.start_outage("refuse")
    daemon.wait_for(lambda: daemon.status("/readyz") == 503, timeout=ACT_TIMEOUT, what="/readyz to turn 503")
    body = daemon.get("/readyz")
    assert body is not None
    assert "ConductorOne not reached" in body.json()["reason"]
    assert daemon.status("/healthz") == 200
    stale = daemon.metric("baton_datadog_conductorone_last_success_timestamp_seconds")
    assert stale is not None
    failed = daemon.wait_logged("polling ConductorOne failed")  # written a moment after the polls failed
    assert failed
    # The cause in words, with the host: not a class name.
    assert all(stack.c1.address in e["error"] for e in failed), failed[-1]

    stack.c1.end_outage()
    daemon.wait_for(lambda: daemon.status("/readyz") == 200, timeout=ACT_TIMEOUT, what="/readyz to recover")
    after = daemon.metric("baton_datadog_conductorone_last_success_timestamp_seconds")
    assert after is not None
    assert after > stale
    # The same process, and it takes work at once.
    task = kind_task("event_feed")
    stack.c1.enqueue(task)
    wait_finished(daemon, stack.c1, [task.id], timeout=ACT_TIMEOUT)
    assert len(stack.c1.recorded().hellos) == 1


def test_a_wrong_client_secret_never_becomes_ready(stack: Stack) -> None:
    other = PREFIX + _b64(json.dumps(_jwk(Ed25519PrivateKey.generate())).encode())
    daemon = stack.start({**FAST, "BATON_CLIENT_SECRET": other}, wait_ready=False)
    seen: set[int | None] = set()
    while daemon.alive():
        seen.add(daemon.status("/readyz"))
        time.sleep(0.05)  # a probe period, as the kubelet's
    assert daemon.wait_exit(ACT_TIMEOUT) == 1
    assert 200 not in seen
    assert other not in daemon.output()


def test_ready_gauge_says_what_readyz_says_while_conductorone_is_out(stack: Stack) -> None:
    # The alert BatonDatadogConductorOneUnreachable reads baton_datadog_ready: it must turn 0 with /readyz.
    daemon = stack.start(FAST)
    assert daemon.metric("baton_datadog_ready") == 1
    stack.c1.start_outage("refuse")
    daemon.wait_for(lambda: daemon.status("/readyz") == 503, timeout=ACT_TIMEOUT, what="/readyz to turn 503")
    assert daemon.metric("baton_datadog_ready") == 0
    stack.c1.end_outage()
    daemon.wait_for(lambda: daemon.status("/readyz") == 200, timeout=ACT_TIMEOUT, what="/readyz to recover")
    assert daemon.metric("baton_datadog_ready") == 1


def test_not_ready_when_the_token_can_no_longer_be_refreshed(stack: Stack) -> None:
    # Tokens revoked and the token endpoint failing: no RPC is even attempted, so no RPC error is counted either.
    # /readyz and the ready gauge are what can tell; the token fetch failures are the cause named in the metrics.
    daemon = stack.start(FAST)
    stack.c1.fail_token_requests(503, times=1_000_000)
    stack.c1.revoke_tokens()
    daemon.wait_for(lambda: daemon.status("/readyz") == 503, timeout=ACT_TIMEOUT, what="/readyz to turn 503")
    assert daemon.metric("baton_datadog_ready") == 0
    assert (daemon.metric("baton_datadog_conductorone_token_fetches_total", outcome="failure") or 0) > 0


def test_a_daemon_busy_with_its_tasks_stays_ready(stack: Stack) -> None:
    # One slot, taken by a grant that waits on a slow Datadog: no poll is made meanwhile (a slot is taken before
    # each poll) and a grant sends no heartbeat, so no ConductorOne RPC at all for longer than the window. Nothing
    # failed: the pod is working, not cut off, and must not be reported unready (nor alerted on as unreachable).
    org = stack.dd.org
    role = next(r for r in org.roles.values() if not r.managed)
    user = next(u.id for u in org.users.values() if u.status == "Active" and role.id not in u.role_ids)
    daemon = stack.start({**FAST, "BATON_PROVISIONING": "true", "BATON_TASK_CONCURRENCY": "1"})
    stack.dd.faults.latency = 1.5
    task = grant_task("role", role.id, "member", user)
    stack.c1.enqueue(task)
    daemon.wait_for(
        lambda: any(e.get("task_id") == task.id for e in daemon.events("task started")),
        timeout=ACT_TIMEOUT,
        what="the grant",
    )
    seen: set[int | None] = set()
    gauge: set[float | None] = set()
    while not finishes(stack.c1, task.id):
        seen.add(daemon.status("/readyz"))
        gauge.add(daemon.metric("baton_datadog_ready"))
        time.sleep(0.05)
    assert_success(only_finish(stack.c1.recorded(), task.id))
    assert seen == {200}
    assert gauge == {1}


def test_not_ready_during_the_start_up_check_says_so_not_that_conductorone_is_awaited(stack: Stack) -> None:
    """The Datadog key check runs before the Hello, for up to a minute when Datadog is slow. /readyz said "waiting for
    a successful Hello to ConductorOne" all that time: an operator reading the probe looked at ConductorOne, which
    had not even been asked yet, while Datadog was what kept the pod unready."""
    stack.dd.faults.hang_seconds = 5.0
    stack.dd.faults.hostile("hang", path="/api/v1/validate")
    daemon = stack.start(FAST, wait_ready=False)
    checking = "running the connector's start-up check (at most 60 s) before the Hello to ConductorOne"

    def reason() -> str | None:
        body = daemon.get("/readyz")
        return body.json()["reason"] if body is not None and body.status_code == 503 else None

    # Polled until seen: the health server listens a moment before the check begins.
    daemon.wait_for(lambda: reason() == checking, timeout=ACT_TIMEOUT, what="/readyz to name the start-up check")
    assert not stack.c1.recorded().hellos
    daemon.wait_ready()
