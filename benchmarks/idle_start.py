"""Benchmark: how fast the daemon gets ready, and what it holds while idle.

The daemon starts as its own process against the fake ConductorOne and the fake Datadog. Start-to-ready is
from the process's start until `/healthz`, then `/readyz`, first answers 200 (probed every 5 ms). Idle RSS is
read from /proc after 20 s with ConductorOne asking for a poll every 5 s (VmRSS; beside it, its anonymous and
file-backed parts and the PSS, which shares each library page among the processes mapping it).
`idle_rss_mb_public_roots` is one more start trusting a public CA bundle (certifi's, plus the fakes' CA) for
both httpx and grpc, as a daemon in production does; the others trust the fakes' one CA, which is lighter
(each parsed CA store is ~1.6 MB). `native_modules_mapped` lists the
heavy extension modules the idle process has loaded (from /proc/PID/maps); `import_ms_top` comes from a second
start under `python -X importtime` (each module's own import time summed by top-level package, in ms, which the
import-time instrumentation itself inflates a little). Median of 3 starts. With `--loop uvloop` the daemon runs
on uvloop's event loop (benchmarks/on_uvloop.py), for comparison.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import certifi

from benchmarks.measure import load_average, proc_rss_mb, wait_until
from tests.fakes.c1 import FakeC1
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.env import connector_env
from tests.fakes.net import logged_health_port

ROOT = Path(__file__).resolve().parents[1]
IDLE_SECONDS, STARTS = 20.0, 3
HEAVY = (
    "_zstd",
    "zstandard",
    "_sqlite3",
    "cryptography",
    "aiohttp",
    "multidict",
    "yarl",
    "grpc",
    "pydantic_core",
    "uvloop",
)


def status(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


def mapped(pid: int) -> list[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    # Only the part below site-packages names a package: a checkout's own path may contain any name.
    libraries = [
        line.split()[-1].rsplit("site-packages", 1)[-1] for line in maps.splitlines() if line.rstrip().endswith(".so")
    ]
    return sorted({name for name in HEAVY for lib in libraries if f"/{name}/" in lib or f"/{name}." in lib})


def start(env: dict[str, str], argv: list[str], err: IO[bytes]) -> tuple[subprocess.Popen[bytes], float, float]:
    log = Path(str(err.name))
    offset = log.stat().st_size  # the file holds the earlier starts' logs too
    started = time.monotonic()
    # stderr to a file: -X importtime writes more than a pipe holds before anyone reads it.
    daemon = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err)
    # The daemon is given port 0 and logs the port it bound (tests/fakes/env.py): read it back from its log.
    port = 0

    def healthy() -> bool:
        nonlocal port
        if not port:
            with log.open("rb") as f:
                f.seek(offset)
                port = logged_health_port(f.read().decode(errors="replace").splitlines()) or 0
        return bool(port) and status(port, "/healthz") == 200

    wait_until(lambda: healthy() or daemon.poll() is not None, 60, "/healthz")
    up = time.monotonic() - started
    wait_until(lambda: status(port, "/readyz") == 200 or daemon.poll() is not None, 60, "/readyz")
    if daemon.poll() is not None:
        raise SystemExit(f"the daemon exited with {daemon.returncode}")
    return daemon, up, time.monotonic() - started


def stop(daemon: subprocess.Popen[bytes]) -> None:
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=30)


def idle_memory(pid: int) -> dict[str, float]:
    """VmRSS and its anonymous / file-backed parts, and the PSS, in MB."""
    rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    pss = next(int(line.split()[1]) for line in rollup if line.startswith("Pss:")) / 1024
    return {
        "idle_rss_mb": proc_rss_mb(pid),
        "idle_rss_anon_mb": proc_rss_mb(pid, "RssAnon"),
        "idle_rss_file_mb": proc_rss_mb(pid, "RssFile"),
        "idle_pss_mb": pss,
    }


def public_roots(c1: FakeC1, directory: str) -> dict[str, str]:
    """Trust settings naming a public CA bundle plus the fake's CA, for httpx (SSL_CERT_FILE) and grpc."""
    bundle = Path(directory) / "public-roots.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes() + b"\n" + c1.ca_cert_path.read_bytes())
    return {"SSL_CERT_FILE": str(bundle), "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(bundle)}


def import_times(err: bytes) -> str:
    own: dict[str, int] = {}  # each module's own import time, summed by top-level package
    for line in err.decode(errors="replace").splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if found:
            package = found.group(2).split(".")[0]
            own[package] = own.get(package, 0) + int(found.group(1))
    top = sorted(own.items(), key=lambda kv: -kv[1])[:12]
    return ", ".join(f"{name} {us / 1000:.0f}" for name, us in top)


def main() -> dict[str, object]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args()
    module = "benchmarks.on_uvloop" if args.loop == "uvloop" else "connector"
    org = generate_org(users=200, seed=5, teams=5, schedules=0)
    plain = [sys.executable, "-m", module]
    with tempfile.TemporaryDirectory() as tmp, FakeDatadog(org) as dd, FakeC1(next_poll=5.0, next_heartbeat=5.0) as c1:
        # info: the port the health server bound is logged at that level.
        extra = {"BATON_LOG_LEVEL": "info", "BATON_C1Z_TEMP_DIR": tmp}
        healthy, ready = [], []
        log = Path(tmp) / "stderr"
        with log.open("wb") as err:
            for _ in range(STARTS):
                daemon, to_health, to_ready = start(connector_env(dd, c1, extra), plain, err)
                healthy.append(to_health)
                ready.append(to_ready)
                stop(daemon)
            daemon, _, _ = start(connector_env(dd, c1, extra), plain, err)
            try:
                time.sleep(IDLE_SECONDS)
                idle = idle_memory(daemon.pid)
                modules = mapped(daemon.pid)
            finally:
                stop(daemon)
            daemon, _, _ = start(connector_env(dd, c1, extra | public_roots(c1, tmp)), plain, err)
            try:
                time.sleep(IDLE_SECONDS)
                idle_public = proc_rss_mb(daemon.pid)
            finally:
                stop(daemon)
        with log.open("wb") as err:
            timed = [sys.executable, "-X", "importtime", "-m", module]
            stop(start(connector_env(dd, c1, extra), timed, err)[0])
        imports = import_times(log.read_bytes())
    return {
        "event_loop": args.loop,
        "start_to_healthz_ms": round(statistics.median(healthy) * 1000),
        "start_to_readyz_ms": round(statistics.median(ready) * 1000),
        **{name: round(value, 1) for name, value in idle.items()},
        "idle_rss_mb_public_roots": round(idle_public, 1),
        "native_modules_mapped": ", ".join(modules) or "none",
        "import_ms_top": imports,
        "load_average": load_average(),
    }


if __name__ == "__main__":
    json.dump(main(), sys.stdout)
    sys.stdout.write("\n")
