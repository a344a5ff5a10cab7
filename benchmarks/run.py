"""`make bench`: run every benchmark in its own process under `/usr/bin/time -v` and write docs/benchmarks.md.

Each benchmark module prints one JSON object; the outer `time -v` gives an independent peak RSS.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS: list[tuple[str, str, str]] = [
    ("c1z_write", "Sync engine → c1z: 100k resources, 300k grants", "benchmarks.c1z_write"),
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


def run_one(module: str) -> tuple[dict[str, object], int]:
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", module], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return result, int(rss.group(1)) if rss else 0


def main() -> int:
    only = set(sys.argv[1:])
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        f"Machine: {machine()}.",
        "",
        "Each benchmark runs in its own process under `/usr/bin/time -v`; *peak RSS (time -v)* is that tool's",
        "'Maximum resident set size', the other figures are the benchmark's own JSON output.",
        "",
    ]
    for name, title, module in BENCHMARKS:
        if only and name not in only:
            continue
        print(f"running {name} ...", flush=True)
        result, rss_kb = run_one(module)
        lines += [f"## {title}", "", f"Command: `.venv/bin/python -m {module}` (via `make bench`)", ""]
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in result.items()]
        lines += [f"| peak RSS (time -v) | {rss_kb / 1024:.1f} MB |", ""]
        print(json.dumps(result), flush=True)
    out = ROOT / "docs" / "benchmarks.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
