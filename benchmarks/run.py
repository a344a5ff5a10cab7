"""`make bench`: run every benchmark in its own process and update docs/benchmarks.md.

Each benchmark module prints one JSON object. `make bench BENCH="name ..."` runs only the named ones; the
sections of the others in docs/benchmarks.md are kept as they are (each section says when it was run).
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.measure import load_average, run_measured

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True, slots=True)
class Bench:
    name: str
    title: str
    module: str
    args: tuple[str, ...] = ()
    # Run under `time -v` here; the others start the process they measure themselves (the fakes stay in the
    # benchmark process so they are not counted).
    outer: bool = False

    @property
    def command(self) -> str:
        return " ".join([".venv/bin/python -m", self.module, *self.args])


BENCHMARKS: list[Bench] = [
    Bench("c1z_write", "Sync engine → c1z: 100k resources, 300k grants", "benchmarks.c1z_write", outer=True),
    Bench("datadog_sync", "One-shot sync of a 10k-user org against the fake Datadog", "benchmarks.datadog_sync"),
    Bench("grant_latency", "Service mode: grant latency and idle cost", "benchmarks.grant_latency"),
    Bench(
        "service_sync_0ms",
        "Service mode: 100k-user sync, Datadog latency 0 ms",
        "benchmarks.service_sync",
        ("--latency-ms", "0"),
    ),
    Bench(
        "service_sync_20ms",
        "Service mode: 100k-user sync, Datadog latency 20 ms",
        "benchmarks.service_sync",
        ("--latency-ms", "20"),
    ),
    Bench(
        "service_sync_profile",
        "Service mode: 100k-user sync under cProfile (where the CPU goes)",
        "benchmarks.service_sync",
        ("--latency-ms", "0", "--profile"),
    ),
    Bench(
        "object_cpu",
        "Object building and decoding: CPU per synced object without network",
        "benchmarks.object_cpu",
    ),
    Bench("idle_start", "Service mode: start-to-ready and idle memory", "benchmarks.idle_start"),
    Bench("c1z_vs_go", "c1z size: ours against a Go-written file of the same org", "benchmarks.c1z_vs_go"),
    Bench("sniffio", "httpx requests with and without sniffio installed", "benchmarks.sniffio_import"),
    Bench("http_request_cpu", "Event-loop CPU per Datadog request", "benchmarks.http_request_cpu"),
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


def run_one(bench: Bench) -> tuple[dict[str, object], float | None]:
    argv = [sys.executable, "-m", bench.module, *bench.args]
    if not bench.outer:
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{bench.name} failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1]), None
    measured = run_measured(argv, cwd=ROOT)
    if measured.returncode != 0:
        raise SystemExit(f"{bench.module} failed:\n{measured.stderr[-2000:]}")
    return json.loads(measured.stdout.strip().splitlines()[-1]), measured.peak_rss_mb


def section(bench: Bench, result: dict[str, object], rss_mb: float | None) -> str:
    about = (importlib.import_module(bench.module).__doc__ or "").split("\n\n", 1)[-1].strip()
    lines = [f"## {bench.title}", "", about, ""]
    lines += [f"Command: `{bench.command}` (or `make bench BENCH={bench.name}`)", ""]
    lines += [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; load average after the run: {load_average()}."
    ]
    lines += ["", "| metric | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in result.items()]
    if rss_mb is not None:
        lines.append(f"| peak RSS (time -v) | {rss_mb:.1f} MB |")
    return "\n".join(lines) + "\n"


def split_sections(text: str) -> tuple[str, dict[str, str]]:
    """The preamble and each `## title` section of the document, by title (in order)."""
    parts = re.split(r"(?m)^(?=## )", text)
    sections = {part.split("\n", 1)[0][3:].strip(): part for part in parts[1:]}
    return parts[0], sections


PREAMBLE = """# Benchmarks

`make bench` runs them all and rewrites each one's section here; `make bench BENCH="name ..."` runs some.
Each section names the command, the machine, and the load average after its run (the machine may be shared).

Each benchmark runs in its own process. Peak RSS and CPU come from `/usr/bin/time -v` (or /proc for the
long-running daemon) and always describe the connector process alone, never the fakes it talks to.

"""


def main() -> int:
    only = set(sys.argv[1:])
    unknown = only - {b.name for b in BENCHMARKS}
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s): {', '.join(sorted(unknown))} (have: {', '.join(b.name for b in BENCHMARKS)})"
        )
    _, sections = split_sections(DOC.read_text() if DOC.exists() else "")
    for bench in BENCHMARKS:
        if only and bench.name not in only:
            continue
        print(f"running {bench.name} ...", flush=True)
        result, rss_mb = run_one(bench)
        sections[bench.title] = section(bench, result, rss_mb) + "\n"
        print(json.dumps(result), flush=True)
        DOC.write_text(PREAMBLE + "".join(sections.values()).rstrip("\n") + "\n")
    print(f"updated {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
