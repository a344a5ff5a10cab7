"""Shared benchmark helpers: run under `/usr/bin/time -v`, read /proc, wait, and shape the fake org."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.fakes.datadog import FakeDatadog, Org

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class Measured:
    stdout: str
    stderr: str
    returncode: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mb: float


def _clock(text: str) -> float:
    parts = [float(p) for p in text.split(":")]
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def run_measured(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Measured:
    done = subprocess.run(["/usr/bin/time", "-v", *argv], env=env, cwd=cwd, capture_output=True, text=True, check=False)
    return _parse_time(done.stderr, done.stdout, done.returncode)


def _parse_time(err: str, out: str, returncode: int) -> Measured:
    def field(pattern: str) -> str:
        found = re.search(pattern, err)
        return found.group(1) if found else "0"

    return Measured(
        stdout=out,
        stderr=err,
        returncode=returncode,
        wall_seconds=_clock(field(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)")),
        cpu_seconds=float(field(r"User time \(seconds\): ([\d.]+)"))
        + float(field(r"System time \(seconds\): ([\d.]+)")),
        peak_rss_mb=int(field(r"Maximum resident set size \(kbytes\): (\d+)")) / 1024,
    )


def child_json(module: str, args: Sequence[str], dd: FakeDatadog) -> dict[str, float]:
    """Run `python -m module --child ARGS BASE_URL` against `dd` and read the one JSON object it prints.

    The keys travel on stdin, never in argv (which any process on the machine can read).
    """
    done = subprocess.run(
        [sys.executable, "-m", module, "--child", *args, dd.base_url],
        cwd=ROOT,
        input=f"{dd.api_key}\n{dd.app_key}\n",
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a running process (`VmHWM` for its peak so far), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_until(check: Callable[[], bool], timeout: float, what: str = "the benchmark") -> None:
    """Poll `check` every 5 ms; a benchmark that waits forever is a failed benchmark."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"benchmark: timed out waiting for {what}")
        time.sleep(0.005)


def load_average() -> str:
    """The 1/5/15-minute load average, printed beside numbers taken on a shared machine."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


class TimedProcess:
    """A long-running process under `/usr/bin/time -v`: signal the real process, read its peak RSS at exit."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> None:
        # stderr (the process's logs, then time's report) goes to a file: a full pipe would stall the process.
        self._stderr = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in stop(), it outlives this call
        self._time = subprocess.Popen(
            ["/usr/bin/time", "-v", *argv], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=self._stderr
        )
        self.started = time.monotonic()
        wait_until(self._child_known, 10, "the measured process to start")
        self.pid = self._child

    def _child_known(self) -> bool:
        children = Path(f"/proc/{self._time.pid}/task/{self._time.pid}/children")
        text = children.read_text().split() if children.exists() else []
        if text:
            self._child = int(text[0])
        return bool(text)

    def stderr_so_far(self) -> str:
        """What the process has logged so far (read beside the writer, without moving its file offset)."""
        return os.pread(self._stderr.fileno(), 1 << 24, 0).decode(errors="replace")

    def stop(self, timeout: float = 60) -> Measured:
        """SIGTERM the process (not `time`), wait, and return what `time -v` saw."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        self._time.wait(timeout=timeout)
        self._stderr.seek(0)
        err = self._stderr.read()
        self._stderr.close()
        return _parse_time(err, "", self._time.returncode)


def redraw_memberships(org: Org, average: float, *, seed: int) -> Org:
    """Re-draw team memberships to `average` members per team overall (one admin each), keeping the generator's
    empty teams (1 in 8): the sizes follow an exponential distribution, as real teams do."""
    rng = random.Random(seed)
    humans = [u.id for u in org.users.values() if not u.service_account]
    staffed = [t for t in org.teams.values() if t.members]
    mean = average * len(org.teams) / len(staffed)
    for team in staffed:
        team.members.clear()
        for j, uid in enumerate(rng.sample(humans, max(1, round(rng.expovariate(1 / mean))))):
            org.add_member(team, uid, role="admin" if j == 0 else None)
    return org
