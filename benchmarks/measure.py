"""Run a command under `/usr/bin/time -v` and read back wall time, CPU time and peak RSS."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


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
    err = done.stderr

    def field(pattern: str) -> str:
        found = re.search(pattern, err)
        return found.group(1) if found else "0"

    return Measured(
        stdout=done.stdout,
        stderr=err,
        returncode=done.returncode,
        wall_seconds=_clock(field(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)")),
        cpu_seconds=float(field(r"User time \(seconds\): ([\d.]+)"))
        + float(field(r"System time \(seconds\): ([\d.]+)")),
        peak_rss_mb=int(field(r"Maximum resident set size \(kbytes\): (\d+)")) / 1024,
    )
