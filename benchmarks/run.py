"""`make bench`: run every benchmark in its own process and write docs/benchmarks.md.

Each benchmark module prints one JSON object. `make bench NAME...` runs only the named ones.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.measure import run_measured

ROOT = Path(__file__).resolve().parents[1]
# (name, title, module, measured from outside): the first runs under `time -v` here; the others start the
# process they measure themselves (the fakes stay in the benchmark process so they are not counted).
BENCHMARKS: list[tuple[str, str, str, bool]] = [
    ("c1z_write", "Sync engine → c1z: 100k resources, 300k grants", "benchmarks.c1z_write", True),
    ("datadog_sync", "One-shot sync of a 10k-user org against the fake Datadog", "benchmarks.datadog_sync", False),
    ("grant_latency", "Service mode: grant latency and idle cost", "benchmarks.grant_latency", False),
]


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    mem = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"MemTotal:\s*(\d+) kB", meminfo.read_text())
        mem = f", {int(found.group(1)) / 1024 / 1024:.0f} GiB RAM" if found else ""
    return f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def run_one(module: str, outer: bool) -> tuple[dict[str, object], float | None]:
    if not outer:
        done = subprocess.run([sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1]), None
    measured = run_measured([sys.executable, "-m", module], cwd=ROOT)
    if measured.returncode != 0:
        raise SystemExit(f"{module} failed:\n{measured.stderr[-2000:]}")
    return json.loads(measured.stdout.strip().splitlines()[-1]), measured.peak_rss_mb


def main() -> int:
    only = set(sys.argv[1:])
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        f"Machine: {machine()}.",
        "",
        "Each benchmark runs in its own process. Peak RSS and CPU come from `/usr/bin/time -v` (or /proc for the",
        "long-running daemon) and always describe the connector process alone, never the fakes it talks to.",
        "",
    ]
    for name, title, module, outer in BENCHMARKS:
        if only and name not in only:
            continue
        print(f"running {name} ...", flush=True)
        result, rss_mb = run_one(module, outer)
        about = (importlib.import_module(module).__doc__ or "").split("\n\n", 1)[-1].strip()
        lines += [f"## {title}", "", about, "", f"Command: `.venv/bin/python -m {module}` (or `make bench`)", ""]
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in result.items()]
        if rss_mb is not None:
            lines.append(f"| peak RSS (time -v) | {rss_mb:.1f} MB |")
        lines.append("")
        print(json.dumps(result), flush=True)
    out = ROOT / "docs" / "benchmarks.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
