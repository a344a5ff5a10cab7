"""Benchmark: the daemon's just-in-time grant latency, and what it costs while idle.

The daemon runs as its own process against the fake ConductorOne and the fake Datadog (20 ms per Datadog
response). 200 role member grants are queued one after the other; each one's latency is from the moment GetTask
handed it to the daemon until its FinishTask arrived (both stamped by the fake ConductorOne); then 200 team
member grants the same way. Requests per grant are counted by the fake Datadog. Idle cost is read
from /proc over 30 s with ConductorOne asking for a poll every 5 s.
"""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.measure import load_average, proc_cpu_seconds, proc_rss_mb, wait_until
from tests.fakes.c1 import FakeC1
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.env import connector_env
from tests.fakes.tasks import grant_task

ROOT = Path(__file__).resolve().parents[1]
GRANTS, LATENCY, IDLE_SECONDS = 200, 0.020, 30.0


def timed_grants(c1: FakeC1, dd: FakeDatadog, tasks: list[tuple[str, str, str]]) -> tuple[list[float], float, int]:
    """Queue grants one after the other; their latencies (ms), Datadog requests per grant, failures."""
    dd.reset_counters()
    latencies: list[float] = []
    ids: list[str] = []
    for resource_type, resource_id, user_id in tasks:
        task_id = c1.enqueue(grant_task(resource_type, resource_id, "member", user_id))

        def finished(task_id: str = task_id) -> bool:
            return c1.task_times(task_id) is not None

        wait_until(finished, 30, "a grant's FinishTask")
        handed_out, finished_at = c1.task_times(task_id) or (0.0, 0.0)
        latencies.append((finished_at - handed_out) * 1000)
        ids.append(task_id)
    finishes = c1.recorded().finish_tasks
    failed = sum(1 for t in ids if finishes[t][0].HasField("status") and finishes[t][0].status.code != 0)
    return sorted(latencies), len(dd.requests()) / len(tasks), failed


def summary(kind: str, latencies: list[float], per_grant: float) -> dict[str, object]:
    return {
        f"{kind}_datadog_requests_per_grant": round(per_grant, 2),
        f"{kind}_latency_median_ms": round(statistics.median(latencies), 1),
        f"{kind}_latency_p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1),
        f"{kind}_latency_max_ms": round(latencies[-1], 1),
    }


def main() -> dict[str, object]:
    org = generate_org(users=1000, seed=9, teams=10, schedules=0)
    with tempfile.TemporaryDirectory() as tmp, FakeDatadog(org) as dd, FakeC1(next_poll=0.0) as c1:
        dd.faults.latency = LATENCY
        extra = {"BATON_PROVISIONING": "true", "BATON_LOG_LEVEL": "warn", "BATON_C1Z_TEMP_DIR": tmp}
        env = connector_env(dd, c1, extra)
        daemon = subprocess.Popen(
            [sys.executable, "-m", "connector"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until(lambda: bool(c1.recorded().hellos), 60, "the daemon's Hello")  # once: then task_times()
            role = next(r for r in org.roles.values() if r.name == "Datadog Read Only Role")
            team = min(org.teams.values(), key=lambda t: len(t.members))
            active = [u.id for u in org.users.values() if not u.disabled and not u.service_account]
            to_role = [("role", role.id, u) for u in active if role.id not in org.users[u].role_ids][:GRANTS]
            to_team = [("team", team.id, u) for u in active if u not in team.members][:GRANTS]
            role_ms, role_requests, role_failed = timed_grants(c1, dd, to_role)
            team_ms, team_requests, team_failed = timed_grants(c1, dd, to_team)
            c1.set_polling(next_poll=5.0)
            time.sleep(6.0)  # let the current poll interval settle
            cpu_before, started = proc_cpu_seconds(daemon.pid), time.monotonic()
            time.sleep(IDLE_SECONDS)
            idle_cpu = proc_cpu_seconds(daemon.pid) - cpu_before
            idle_rss = proc_rss_mb(daemon.pid)
            elapsed = time.monotonic() - started
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=30)
    return {
        "grants": f"{len(role_ms)} role member, {len(team_ms)} team member (one after the other)",
        "failed": role_failed + team_failed,
        "datadog_latency_ms": LATENCY * 1000,
        **summary("role_grant", role_ms, role_requests),
        **summary("team_grant", team_ms, team_requests),
        "idle_rss_mb_after_grants": round(idle_rss, 1),
        "idle_cpu_percent": round(100 * idle_cpu / elapsed, 2),
        "load_average": load_average(),
    }


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
    sys.stdout.write("\n")
