"""ConductorOne unreachable for a while: the daemon backs off, keeps its results, and recovers by itself.

While ConductorOne is out, tasks the daemon already runs finish and cannot be reported, and new tasks queue up
on the ConductorOne side. Afterwards every task must have exactly one FinishTask: a lost report is a task
ConductorOne believes is still running (a revoke nobody knows the fate of), a duplicate is a lie about it.
"""

from __future__ import annotations

import pytest

from connector.baton.runtime.scheduler import POLL_RETRY
from tests.e2e.harness import ACT_TIMEOUT, Stack, assert_success, only_finish, wait_finished
from tests.fakes.tasks import grant_task, kind_task, revoke_task

BACKOFF_SCALE = 0.05
"""The issue's 30 s outage, run with every retry delay scaled by BATON_BACKOFF_SCALE (0.05): the backoffs go
through as many doublings as in 30 s unscaled (poll cap 60 s -> 3 s, report cap 30 s -> 1.5 s), so several
failed polls and failed reports happen, in a few seconds. The outage lasts until the daemon has shown each of
them (events in its log, answers of its probes), not for a fixed time."""
FAILED_POLLS = 3
OUTAGE_TIMEOUT = 60.0
"""Only a bound: the outage normally ends after a few seconds, as soon as everything above was seen."""
DATADOG_LATENCY = 1.0
"""Per Datadog request: the tasks running when the outage starts finish (and need reporting) during it."""


@pytest.mark.slow
def test_recovers_from_an_outage_without_losing_or_repeating_a_report(stack: Stack) -> None:
    c1, dd = stack.c1, stack.dd
    org = dd.org
    role = next(r for r in org.roles.values() if not r.managed)
    users = [u.id for u in org.users.values() if u.status == "Active" and role.id not in u.role_ids][:2]
    holder = next(u.id for u in org.users.values() if role.id in u.role_ids)
    # Four slots: the three tasks running through the outage leave one, so the daemon keeps polling during it
    # (a slot is taken before each poll, and a task holds its slot until its report lands).
    daemon = stack.start(
        {
            "BATON_PROVISIONING": "true",
            "BATON_TASK_CONCURRENCY": "4",
            "BATON_BACKOFF_SCALE": str(BACKOFF_SCALE),
            "BATON_READY_WINDOW_SECONDS": "2",
        }
    )
    pid = daemon.pid

    # Running when the outage starts, slowed down by Datadog; started in this order, so the revoke (one Datadog
    # request) starts last and still ends well inside the outage.
    dd.faults.latency = DATADOG_LATENCY
    interrupted_sync = kind_task("sync_full")
    grant = grant_task("role", role.id, "member", users[0])
    revoke = revoke_task("role", role.id, "member", holder)
    running = [interrupted_sync, grant, revoke]
    for task in running:
        c1.enqueue(task)

    def all_started() -> bool:
        started = {e.get("task_id") for e in daemon.events("task started")}
        return all(t.id in started for t in running)

    daemon.wait_for(all_started, timeout=ACT_TIMEOUT, what="the first tasks to start")
    assert not c1.recorded().finish_tasks, "the first tasks finished before the outage: nothing to prove"
    c1.start_outage("refuse")

    # Queued while ConductorOne is unreachable.
    queued_grant, queued_sync = grant_task("role", role.id, "member", users[1]), kind_task("sync_full")
    queued = [queued_grant, queued_sync, kind_task("event_feed")]
    for task in queued:
        c1.enqueue(task)

    # Liveness does not depend on ConductorOne (no restart storm during its outage), readiness does.
    readiness: set[int | None] = set()

    def outage_observed() -> bool:
        assert daemon.status("/healthz") == 200
        readiness.add(daemon.status("/readyz"))
        return (
            503 in readiness
            and len(daemon.events("polling ConductorOne failed")) >= FAILED_POLLS
            # The grant and the revoke (one slow Datadog request each) finish during the outage: their reports fail.
            and {grant.id, revoke.id} <= {e.get("task_id") for e in daemon.events("task report failed; retrying")}
        )

    daemon.wait_for(
        outage_observed, timeout=OUTAGE_TIMEOUT, interval=0.2, what="failed polls, failed reports and /readyz 503"
    )
    assert not c1.recorded().finish_tasks, "a FinishTask got through the outage"
    c1.end_outage()

    everything = running + queued
    wait_finished(daemon, c1, [t.id for t in everything], timeout=90)
    dd.faults.latency = 0
    # A duplicate report would come from a retry loop still running: wait until the daemon holds no task (its
    # in-flight gauge counts a task until its report landed or was given up), then read the records.
    daemon.wait_no_task_in_flight()
    recorded = c1.recorded()

    for task in everything:
        only_finish(recorded, task.id)
    assert set(recorded.finish_tasks) == {t.id for t in everything}
    for task in (grant, revoke, queued_grant):
        assert_success(only_finish(recorded, task.id))
    assert all(role.id in org.users[uid].role_ids for uid in users), "every grant reached Datadog"
    assert role.id not in org.users[holder].role_ids, "the revoke reached Datadog"
    # The sync that was running could not upload (or lost its heartbeats): a retryable failure, never a final one.
    interrupted = only_finish(recorded, interrupted_sync.id)
    if interrupted.WhichOneof("final_state") == "error":
        assert not interrupted.error.non_retryable, interrupted.status.message
    # The sync queued during the outage ran after it, completely.
    assert_success(only_finish(recorded, queued_sync.id))
    assert any(u.task_id == queued_sync.id and u.ok for u in recorded.uploads)

    # Polls failed and were backed off under the one policy (scaled), and the same process recovered on its own.
    failed_polls = daemon.events("polling ConductorOne failed")
    delays = [e["retry_in_seconds"] for e in failed_polls]
    assert len(failed_polls) >= 3, f"only {len(failed_polls)} failed polls: no backoff exercised"
    assert all(0 <= d <= POLL_RETRY.max_delay * BACKOFF_SCALE for d in delays), delays
    assert daemon.events("task report failed; retrying"), "reports were retried"
    assert daemon.alive()
    assert daemon.pid == pid
    assert daemon.status("/readyz") == 200
    assert len(recorded.hellos) == 1

    # And it takes new work right away.
    after = kind_task("event_feed")
    c1.enqueue(after)
    wait_finished(daemon, c1, [after.id], timeout=ACT_TIMEOUT)
