"""Benchmark: a service-mode full sync of a 100k-user org, as ConductorOne asks for it.

Org: 100,000 users, 100 roles, 5,000 teams holding ~74.5k memberships (15 per team on average, 1 team in 8
empty), no opt-in types. The daemon runs as its own process under `/usr/bin/time -v` against the fake
ConductorOne and the fake Datadog (which run in the benchmark process, so their work is not counted). After
the daemon has registered, one `sync_full` task is queued; the sync's wall time runs from GetTask handing it
out to its FinishTask, and its CPU is the daemon's /proc CPU over the same span. A separate process probes
`/healthz` every 50 ms during the sync. Metrics:

- `datadog_requests` vs `lower_bound` (pages of users, roles, teams, and of each non-empty team's members);
- `wall_seconds` vs `network_bound_seconds` = requests * latency / 8 (the client's request concurrency);
- `cpu_us_per_object` = sync CPU / (resources + grants in the uploaded c1z);
- `peak_rss_mb` (`time -v`), `c1z_bytes` (the upload), `/healthz` p50/p99/max;
- the end-of-sync tail (issue 12 goal 2): from the last page stored to the c1z ready (`tail_to_file_seconds`:
  index build, stats, compaction, compression, fsync; the store's "c1z saved" log record) and to the upload
  done (`tail_to_upload_seconds`, adding the time between that record and the daemon's "sync uploaded"), and
  the latter's share of the sync's wall;
- `listing_timeline` and, per phase (`phase_*`, benchmarks/phases.py): wall vs network minimum, requests in
  flight at the fake, the daemon's CPU by thread (event loop, store, other), and the fakes' own CPU;
- with `--profile`: the daemon runs under cProfile (per-thread CPU clock) and the CPU is summed by area;
- with `--loop uvloop`: the daemon runs on uvloop's event loop (benchmarks/on_uvloop.py), for comparison.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from benchmarks import phases
from benchmarks.measure import TimedProcess, load_average, proc_cpu_seconds, redraw_memberships, wait_until
from connector.baton.c1z.reader import C1ZReader
from tests.fakes.c1 import FakeC1
from tests.fakes.datadog import FakeDatadog, Org, generate_org
from tests.fakes.env import connector_env
from tests.fakes.net import logged_health_port
from tests.fakes.tasks import kind_task

ROOT = Path(__file__).resolve().parents[1]
USERS, ROLES, TEAMS, AVG_MEMBERS = 100_000, 100, 5_000, 15
CONCURRENCY = 8  # DatadogClient's max_concurrency: requests in flight at once

# Where CPU goes, by the file or builtin a function belongs to (first match wins).
AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("SQLite", ("sqlite3", "connector/baton/c1z/")),
    ("zstd", ("zstandard", "zstd")),
    ("protobuf", ("google/protobuf", "google._upb", "_pb2", "connector/baton/builders")),
    ("pydantic / JSON", ("pydantic", "json", "connector/datadog/models")),
    ("Datadog objects → baton", ("connector/datadog/resources/",)),
    (
        "HTTP (httpx stack, client)",
        ("httpx", "httpcore", "h11", "anyio", "sniffio", "ssl", "socket", "connector/datadog/"),
    ),
    ("logging", ("structlog", "logging")),
    ("gRPC / ConductorOne", ("grpc", "connector/baton/c1/")),
    ("asyncio", ("asyncio", "selectors", "select.epoll")),
    # Start-up, and any import run per call (httpcore's `import sniffio` when sniffio is missing).
    ("imports, regex and class building", ("importlib", "<frozen", "zipimport", "marshal", "builtins.exec")),
    ("imports, regex and class building", ("builtins.compile", "__build_class__", "/re/", "typing.py", "enum.py")),
    ("imports, regex and class building", ("dataclasses.py", "abc.py")),
    ("sync engine", ("connector/baton/",)),
]


def pages(n: int) -> int:
    return max(1, math.ceil(n / 100))


def build_org(users: int = USERS, teams: int = TEAMS, roles: int = ROLES, seed: int = 42) -> Org:
    """The generator's org with team memberships re-drawn to AVG_MEMBERS per team on average."""
    org = generate_org(users=users, seed=seed, teams=teams, schedules=0, api_keys=0, custom_roles=roles - 3)
    return redraw_memberships(org, AVG_MEMBERS, seed=seed)


def lower_bound(org: Org) -> int:
    """Requests a sync of users, roles and teams cannot do without (tests/datadog/test_sync_org.py)."""
    members = sum(pages(len(t.members)) for t in org.teams.values() if t.members)
    return pages(len(org.users)) + pages(len(org.roles)) + pages(len(org.teams)) + members


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


Key = tuple[str, int, str]


def area_of(key: Key) -> str:
    where = f"{key[0]} {key[2]}"
    return next((area for area, marks in AREAS if any(m in where for m in marks)), "other")


def profile_summary(path: Path, top: int = 12) -> dict[str, object]:
    stats = pstats.Stats(str(path))
    raw: dict[Key, tuple[int, int, float, float, dict[Key, tuple[int, int, float, float]]]] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    by_area: dict[str, float] = {}
    for key, (_, _, tottime, _, callers) in raw.items():
        if key[0] == "~" and area_of(key) == "other" and callers:
            # A builtin (isinstance, dict.get, ...) counts for the areas that called it, in proportion.
            for caller, (_, _, spent, _) in callers.items():
                by_area[area_of(caller)] = by_area.get(area_of(caller), 0.0) + spent
        else:
            by_area[area_of(key)] = by_area.get(area_of(key), 0.0) + tottime
    functions = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    return {
        "profile_cpu_seconds": round(total, 1),
        "profile_by_area": ", ".join(
            f"{area} {100 * t / total:.0f}%" for area, t in sorted(by_area.items(), key=lambda kv: -kv[1])
        ),
        "profile_top_functions": "; ".join(
            f"{'/'.join(Path(k[0]).parts[-2:])}:{k[1]}({k[2]}) {100 * v[2] / total:.1f}%" for k, v in functions
        ),
    }


def log_records(lines: Iterable[str], *events: str) -> dict[str, dict[str, object]]:
    """The daemon's last JSON log record of each named event."""
    found: dict[str, dict[str, object]] = {}
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") in events:
            found[record["event"]] = record
    return found


def tail(lines: Iterable[str], wall: float) -> dict[str, object]:
    """The end-of-sync tail from the store's "c1z saved" record and the task's "sync uploaded" record."""
    records = log_records(lines, "c1z saved", "sync uploaded")
    saved, uploaded = records.get("c1z saved"), records.get("sync uploaded")
    if saved is None or uploaded is None or not isinstance(saved.get("tail_seconds"), float | int):
        return {"tail": "n/a (no 'c1z saved' record with tail_seconds in the daemon's log)"}
    to_file = float(saved["tail_seconds"])  # type: ignore[arg-type]
    upload = (
        datetime.fromisoformat(str(uploaded["timestamp"])) - datetime.fromisoformat(str(saved["timestamp"]))
    ).total_seconds()
    return {
        "tail_to_file_seconds": round(to_file, 2),
        "tail_to_file_cpu_seconds": saved.get("tail_cpu_seconds"),
        "tail_index_seconds": saved.get("index_seconds"),
        "tail_compact_seconds": saved.get("compact_seconds"),
        "tail_compress_seconds": saved.get("compress_seconds"),
        "tail_upload_seconds": round(upload, 2),
        "tail_to_upload_seconds": round(to_file + upload, 2),
        "tail_share_of_wall": f"{100 * (to_file + upload) / wall:.1f}%",
    }


def main() -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--users", type=int, default=USERS)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args()
    if args.profile and args.loop != "asyncio":
        parser.error("--profile runs the daemon on asyncio's loop only")
    latency = args.latency_ms / 1000
    org = build_org(users=args.users, teams=max(1, TEAMS * args.users // USERS))
    members = sum(len(t.members) for t in org.teams.values())
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeDatadog(org) as dd,
        FakeC1(next_poll=0.5, next_heartbeat=5.0) as c1,
    ):
        dd.faults.latency = latency
        # info: the daemon binds health port 0 (tests/fakes/env.py) and logs the port it got at that level.
        extra = {"BATON_LOG_LEVEL": "info", "BATON_C1Z_TEMP_DIR": tmp}
        env = connector_env(dd, c1, extra)
        prof = Path(tmp) / "daemon.prof"
        argv = [sys.executable, "-m", "connector"]
        if args.profile:
            argv = [sys.executable, "-m", "benchmarks.profiled", str(prof)]
        elif args.loop == "uvloop":
            argv = [sys.executable, "-m", "benchmarks.on_uvloop"]
        daemon = TimedProcess(argv, env=env, cwd=ROOT)
        try:
            wait_until(lambda: bool(c1.recorded().hellos), 120, "the daemon's Hello")
            port = logged_health_port(daemon.stderr_so_far().splitlines())
            if port is None:
                raise SystemExit("the daemon did not log its health port")
            health = f"http://127.0.0.1:{port}/healthz"
            dd.reset_counters()
            prober = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.probe", health],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            sampler = phases.CpuSampler(daemon.pid, dd.thread_native_id).start()
            cpu_before = proc_cpu_seconds(daemon.pid)
            task_id = c1.enqueue(kind_task("sync_full"))
            wait_until(lambda: c1.task_times(task_id) is not None, 3600, "the sync's FinishTask")
            cpu = proc_cpu_seconds(daemon.pid) - cpu_before
            sampler.stop()
            probed, _ = prober.communicate(input="", timeout=60)
        finally:
            measured = daemon.stop()
        seen = c1.recorded()
        finish = seen.finish_tasks[task_id][0]
        if finish.HasField("status") and finish.status.code != 0:
            raise SystemExit(f"the sync failed: {finish.status.message}")
        handed_out, finished_at = c1.task_times(task_id) or (0.0, 0.0)
        wall = finished_at - handed_out
        upload = next(u for u in seen.uploads if u.task_id == task_id and u.ok)
        assert upload.path is not None
        with C1ZReader(upload.path, tmp_dir=Path(tmp)) as reader:
            counts = reader.counts_by_type()
        objects = sum(c["resources"] + c["grants"] for c in counts.values())
        requests = len(dd.requests())
        probes = json.loads(probed)
        latencies = probes["latencies_ms"]
        result: dict[str, object] = {
            "org": f"{len(org.users)} users, {len(org.roles)} roles, {len(org.teams)} teams, {members} memberships",
            "datadog_latency_ms": args.latency_ms,
            "event_loop": args.loop,
            "datadog_requests": requests,
            "lower_bound": lower_bound(org),
            "wall_seconds": round(wall, 2),
            "network_bound_seconds": round(requests * latency / CONCURRENCY, 2),
            "wall_vs_network_bound": round(wall / (requests * latency / CONCURRENCY), 2) if latency else "n/a",
            "sync_cpu_seconds": round(cpu, 2),
            "synced_objects": objects,
            "cpu_us_per_object": round(cpu / objects * 1e6, 1),
            "peak_rss_mb": round(measured.peak_rss_mb, 1),
            "c1z_bytes": upload.size,
            "healthz_probes": f"{len(latencies)} ok, {probes['failures']} failed",
            "healthz_p50_ms": round(statistics.median(latencies), 1) if latencies else "n/a",
            "healthz_p99_ms": round(percentile(latencies, 0.99), 1) if latencies else "n/a",
            "healthz_max_ms": round(max(latencies), 1) if latencies else "n/a",
            **tail(measured.stderr.splitlines(), wall),
            "listing_timeline": phases.timeline(dd.requests(), handed_out),
            **phases.report(dd.requests(), sampler, handed_out, finished_at, latency),
            "load_average": load_average(),
        }
        if args.profile:
            result |= profile_summary(prof)
            if keep := os.environ.get("BENCH_KEEP_PROFILE"):  # for a closer look with pstats
                shutil.copy(prof, keep)
        return result


if __name__ == "__main__":
    started = time.monotonic()
    json.dump(main(), sys.stdout)
    sys.stdout.write("\n")
