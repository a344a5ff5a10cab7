"""Benchmark: the daemon's just-in-time grant latency, and what it costs while idle.

The daemon runs as its own process against the fake ConductorOne and the fake Datadog (20 ms per Datadog
response). 200 role grants are queued one after the other; each one's latency is from the moment GetTask
handed it to the daemon until its FinishTask arrived (both stamped by the fake ConductorOne). Idle cost is read
from /proc over 30 s with ConductorOne asking for a poll every 5 s.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fakes.c1 import FakeC1
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.env import connector_env
from tests.fakes.tasks import grant_task

ROOT = Path(__file__).resolve().parents[1]
GRANTS, LATENCY, IDLE_SECONDS = 200, 0.020, 30.0


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_until(check: object, timeout: float) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit("benchmark: timed out")
        time.sleep(0.005)


def main() -> dict[str, object]:
    org = generate_org(users=400, seed=9, teams=10, schedules=0)
    with tempfile.TemporaryDirectory() as tmp, FakeDatadog(org) as dd, FakeC1(next_poll=0.0) as c1:
        dd.faults.latency = LATENCY
        extra = {"BATON_PROVISIONING": "true", "BATON_LOG_LEVEL": "warn", "BATON_C1Z_TEMP_DIR": tmp}
        env = connector_env(dd, c1, extra)
        daemon = subprocess.Popen(
            [sys.executable, "-m", "connector"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_until(lambda: bool(c1.recorded().hellos), 60)
            role = next(r for r in org.roles.values() if r.name == "Datadog Read Only Role")
            candidates = [u.id for u in org.users.values() if role.id not in u.role_ids and not u.disabled][:GRANTS]
            latencies = []
            for user_id in candidates:
                task_id = c1.enqueue(grant_task("role", role.id, "member", user_id))
                wait_until(lambda task_id=task_id: task_id in c1.recorded().first_finished_at, 30)
                seen = c1.recorded()
                latencies.append((seen.first_finished_at[task_id] - seen.handed_out_at[task_id]) * 1000)
            failed = sum(
                1 for t in c1.recorded().finish_tasks.values() if t[0].HasField("status") and t[0].status.code != 0
            )
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
    latencies.sort()
    return {
        "grants": len(latencies),
        "failed": failed,
        "datadog_latency_ms": LATENCY * 1000,
        "grant_latency_median_ms": round(statistics.median(latencies), 1),
        "grant_latency_p99_ms": round(latencies[max(0, int(len(latencies) * 0.99) - 1)], 1),
        "grant_latency_max_ms": round(latencies[-1], 1),
        "idle_rss_mb": round(idle_rss, 1),
        "idle_cpu_percent": round(100 * idle_cpu / elapsed, 2),
    }


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
    sys.stdout.write("\n")
