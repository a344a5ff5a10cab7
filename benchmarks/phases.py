"""Where a sync's wall goes, phase by phase: per-thread CPU, requests in flight, and the fakes' own CPU.

`CpuSampler` reads the CPU clock of every thread of the daemon (/proc/<pid>/task/*/stat), of the benchmark
process (which runs the fakes) and of the fake Datadog's serving thread every `period` seconds; `phases` cuts
the sync into the Datadog listings it runs one after the other (from the fake's record of each request: when
it arrived, when it was answered) plus the start and the end-of-sync tail, and reports for each:

- its wall and its network minimum (requests x latency / 8, the client's concurrency);
- requests in flight at the fake (arrived, not yet answered), time-weighted: the mean, and the share of the
  phase's time with none and with 8;
- the daemon's CPU on the event-loop thread (the main thread), on the store thread (the busiest other thread
  over the sync) and on the rest (gRPC, executors), and `gil`: loop + store CPU per second of wall. Python code
  runs under one GIL, so a phase whose `gil` nears 1.0 is bound by it (the store thread's SQLite steps and
  zstd release the GIL, so this is an upper bound on the time Python held it);
- how long the loop and store threads were runnable but waiting for a core (schedstat's run-queue time): the
  machine's load, the fakes and the daemon's own other thread taking the 2 cores;
- the benchmark process's CPU (fake Datadog, fake ConductorOne, the benchmark itself) and the fake Datadog
  thread's share of it: on a 2-core machine, CPU the fakes take is CPU the daemon does not get.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.datadog.web import Seen

CONCURRENCY = 8  # DatadogClient's max_concurrency
# Listing routes, named as the sync's phases.
PHASE_NAMES = {
    "/api/v2/users": "users",
    "/api/v2/roles": "roles",
    "/api/v2/team": "teams",
    "/api/v2/team/{team_id}/memberships": "memberships",
}


def _schedstat(path: Path) -> tuple[float, float] | None:
    """(seconds on a CPU, seconds runnable but waiting for one) of a thread, from its schedstat."""
    try:
        run, wait = path.read_text().split()[:2]
    except (OSError, ValueError):
        return None  # the thread ended between listing and reading
    return int(run) / 1e9, int(wait) / 1e9


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    # thread id -> (CPU seconds, seconds waiting for a CPU) so far; threads that ended keep their last value
    daemon: dict[int, tuple[float, float]]
    bench: float
    fake: float


class CpuSampler:
    """Samples CPU clocks in a background thread until `stop`; `at(t)` interpolates between samples."""

    def __init__(self, pid: int, fake_tid: int | None, period: float = 0.1) -> None:
        self.pid = pid
        self._fake = Path(f"/proc/self/task/{fake_tid}/schedstat") if fake_tid is not None else None
        self._period = period
        self.samples: list[Sample] = []
        self._known: dict[int, tuple[float, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def start(self) -> CpuSampler:
        self._sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self._sample()

    def _sample(self) -> None:
        tasks = Path(f"/proc/{self.pid}/task")
        try:
            tids = [int(t) for t in os.listdir(tasks)]
        except OSError:
            tids = []
        for tid in tids:
            clocks = _schedstat(tasks / str(tid) / "schedstat")
            if clocks is not None:
                self._known[tid] = clocks
        fake_clocks = _schedstat(self._fake) if self._fake else None
        fake = fake_clocks[0] if fake_clocks else (self.samples[-1].fake if self.samples else 0.0)
        self.samples.append(Sample(time.monotonic(), dict(self._known), time.process_time(), fake))

    def at(self, moment: float) -> Sample:
        """The clocks at `moment`, linearly interpolated between the samples around it."""
        samples = self.samples
        if moment <= samples[0].at:
            return samples[0]
        for before, after in itertools.pairwise(samples):
            if before.at <= moment <= after.at:
                return _between(before, after, (moment - before.at) / ((after.at - before.at) or 1.0))
        return samples[-1]


def _between(before: Sample, after: Sample, f: float) -> Sample:
    def lerp(a: float, b: float) -> float:
        return a + (b - a) * f

    def clocks(tid: int) -> tuple[float, float]:
        a = before.daemon.get(tid, (0.0, 0.0))
        b = after.daemon.get(tid, a)
        return lerp(a[0], b[0]), lerp(a[1], b[1])

    return Sample(
        lerp(before.at, after.at),
        {t: clocks(t) for t in after.daemon.keys() | before.daemon.keys()},
        lerp(before.bench, after.bench),
        lerp(before.fake, after.fake),
    )


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    start: float
    end: float
    requests: list[Seen]


def _listings(seen: Sequence[Seen]) -> list[tuple[str, list[Seen]]]:
    """The requests of each route, the routes in the order their first request arrived."""
    by_route: dict[str, list[Seen]] = {}
    for s in seen:
        by_route.setdefault(s.route, []).append(s)
    return sorted(by_route.items(), key=lambda kv: min(s.arrived for s in kv[1]))


def timeline(seen: Sequence[Seen], start: float) -> str:
    """When each listing's requests were answered, in seconds after `start`, with its request count."""
    return "; ".join(
        f"{route} {min(s.at for s in requests) - start:.1f}-{max(s.at for s in requests) - start:.1f} s "
        f"({len(requests)})"
        for route, requests in _listings(seen)
    )


def cut(seen: Sequence[Seen], started: float, finished: float) -> list[Phase]:
    """The sync's wall cut into phases: `start`, each listing from its first request to the next one's (the
    last to its last answer), then `tail`. Their walls add up to the sync's."""
    listings = _listings(seen)
    firsts = [min(s.arrived for s in requests) for _, requests in listings]
    phases = [Phase("start", started, firsts[0] if firsts else finished, [])]
    for i, (route, requests) in enumerate(listings):
        end = firsts[i + 1] if i + 1 < len(firsts) else max(s.at for s in requests)
        phases.append(Phase(PHASE_NAMES.get(route, route), firsts[i], end, requests))
    phases.append(Phase("tail", phases[-1].end, finished, []))
    return phases


def in_flight(seen: Sequence[Seen], start: float, end: float) -> tuple[float, float, float]:
    """Requests in flight at the fake during [start, end]: time-weighted mean, share of time at 0, at >= 8."""
    events = sorted([(s.arrived, 1) for s in seen] + [(s.at, -1) for s in seen])
    level, last = 0, start
    weighted = idle = full = 0.0
    for moment, step in events:
        if moment > start:
            span = min(moment, end) - last
            if span > 0:
                weighted += level * span
                idle += span if level == 0 else 0.0
                full += span if level >= CONCURRENCY else 0.0
                last = min(moment, end)
        if moment >= end:
            break
        level += step
    if end > last:
        weighted += level * (end - last)
        idle += (end - last) if level == 0 else 0.0
        full += (end - last) if level >= CONCURRENCY else 0.0
    span = (end - start) or 1.0
    return weighted / span, idle / span, full / span


def report(
    seen: Sequence[Seen], sampler: CpuSampler, started: float, finished: float, latency: float
) -> dict[str, object]:
    """One key per phase, plus the sync's CPU by thread and the fakes' CPU over the whole sync."""
    first, last = sampler.at(started), sampler.at(finished)

    def spent(a: Sample, b: Sample, index: int) -> dict[int, float]:
        return {t: max(0.0, b.daemon[t][index] - a.daemon.get(t, (0.0, 0.0))[index]) for t in b.daemon}

    over_sync = spent(first, last, 0)
    others = [t for t in sorted(over_sync, key=lambda t: -over_sync[t]) if t != sampler.pid]
    store = others[0] if others else -1

    def split(a: Sample, b: Sample) -> tuple[float, float, float, float, float]:
        """loop CPU, store CPU, other threads' CPU, loop and store waiting for a CPU."""
        cpu, wait = spent(a, b, 0), spent(a, b, 1)
        loop, on_store = cpu.get(sampler.pid, 0.0), cpu.get(store, 0.0)
        return loop, on_store, sum(cpu.values()) - loop - on_store, wait.get(sampler.pid, 0.0), wait.get(store, 0.0)

    out: dict[str, object] = {}
    for phase in cut(seen, started, finished):
        a, b = sampler.at(phase.start), sampler.at(phase.end)
        wall = phase.end - phase.start
        loop, on_store, rest, loop_wait, store_wait = split(a, b)
        text = f"{wall:.1f} s"
        if phase.requests:
            mean, idle, full = in_flight(phase.requests, phase.start, phase.end)
            text += (
                f" ({len(phase.requests)} requests, network min {len(phase.requests) * latency / CONCURRENCY:.1f} s;"
                f" in flight mean {mean:.1f}, none {100 * idle:.0f}% / 8 {100 * full:.0f}% of the time)"
            )
        text += (
            f"; daemon CPU loop {loop:.1f} + store {on_store:.1f} + other {rest:.1f} s"
            f" (gil {(loop + on_store) / (wall or 1.0):.2f}), runnable but waiting for a core: loop {loop_wait:.1f},"
            f" store {store_wait:.1f} s; benchmark process {b.bench - a.bench:.1f} s (fake Datadog {b.fake - a.fake:.1f})"
        )
        out[f"phase_{phase.name}"] = text
    loop, on_store, rest, loop_wait, store_wait = split(first, last)
    out["daemon_cpu_by_thread"] = (
        f"loop {loop:.1f} s (waited {loop_wait:.1f} s for a core), store {on_store:.1f} s (waited {store_wait:.1f} s),"
        f" other {rest:.1f} s"
    )
    out["fakes_cpu_seconds"] = (
        f"{last.bench - first.bench:.1f} (fake Datadog thread {last.fake - first.fake:.1f}): the benchmark process"
    )
    return out
