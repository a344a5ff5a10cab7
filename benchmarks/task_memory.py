"""Benchmark: the daemon's peak memory while ConductorOne hands out tasks as large as a GetTask answer may be.

The daemon runs as its own process (`BATON_TASK_CONCURRENCY=100`, the largest allowed) against the fake ConductorOne
and the fake Datadog, which answers every request after 120 s once the daemon is up, so each grant stays under way.
ConductorOne hands out grants whose principal carries `--task-mib` MiB of an annotation (an answer of that size; the
client's receive limit is 32 MiB) and `--items` empty ones (2 bytes each on the wire, 56 in the parser's arena), never
more than three queued at once, until the daemon stops claiming them (no hand-out for 5 s) or has claimed them all.
Reported: the tasks claimed and the daemon's peak RSS (VmHWM, /proc). `--root` runs the daemon from another checkout
(the same interpreter), to compare with a version without the budget of task bytes.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from google.protobuf import any_pb2

from benchmarks.measure import load_average, proc_rss_mb, wait_until
from tests.fakes.c1 import FakeC1
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.env import connector_env
from tests.fakes.tasks import grant_task

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--task-mib", type=float, default=30.0, help="MiB of one annotation in each task")
    parser.add_argument("--items", type=int, default=0, help="empty annotations in each task besides")
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    org = generate_org(users=200, seed=9, teams=2, schedules=0)
    role = next(r for r in org.roles.values() if r.name == "Datadog Read Only Role")
    users = [u.id for u in org.users.values() if not u.disabled and not u.service_account][: args.tasks]
    with tempfile.TemporaryDirectory() as tmp, FakeDatadog(org) as dd, FakeC1(next_poll=0.0) as c1:
        extra = {
            "BATON_PROVISIONING": "true",
            "BATON_LOG_LEVEL": "warn",
            "BATON_C1Z_TEMP_DIR": tmp,
            "BATON_TASK_CONCURRENCY": "100",
            "BATON_SHUTDOWN_GRACE_SECONDS": "0",
        }
        daemon = subprocess.Popen(
            [sys.executable, "-m", "connector"],
            env=connector_env(dd, c1, extra),
            cwd=args.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: bool(c1.recorded().hellos), 60, "the daemon's Hello")
            dd.faults.latency = 120.0  # after the start-up check, which would wait for it
            baseline = proc_rss_mb(daemon.pid)
            queued, last_claim = 0, time.monotonic()
            while time.monotonic() - last_claim < 5.0:
                claimed = len(c1.recorded().handed_out_at)
                if queued < len(users) and queued - claimed < 3:
                    task = grant_task("role", role.id, "member", users[queued])
                    padding = any_pb2.Any(
                        type_url="type.googleapis.com/x.Padding", value=b"p" * int(args.task_mib * MiB)
                    )
                    task.grant.principal.annotations.append(padding)
                    task.grant.principal.annotations.extend(any_pb2.Any() for _ in range(args.items))
                    c1.enqueue(task)
                    queued += 1
                    last_claim = time.monotonic()
                elif claimed == len(users):
                    break
                else:
                    time.sleep(0.05)
                    if len(c1.recorded().handed_out_at) > claimed:
                        last_claim = time.monotonic()
            claimed = len(c1.recorded().handed_out_at)
            peak = proc_rss_mb(daemon.pid, "VmHWM")
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
    return {
        "root": str(args.root),
        "task_answer_mib": args.task_mib,
        "task_empty_annotations": args.items,
        "tasks_offered": queued,
        "tasks_claimed": claimed,
        "rss_mb_after_hello": round(baseline, 1),
        "peak_rss_mb": round(peak, 1),
        "load_average": load_average(),
    }


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
    sys.stdout.write("\n")
