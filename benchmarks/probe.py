"""Probe a health endpoint every 50 ms, as a kubelet would, until stdin closes; print the latencies.

Runs as its own process so that the fakes' work in the benchmark process cannot delay a probe: what it
measures is how long the daemon's event loop takes to answer. Each probe opens a new connection.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit

INTERVAL = 0.050


def probe(url: str, stop: threading.Event) -> tuple[list[float], int]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    failures = 0
    next_at = time.monotonic()
    while not stop.is_set():
        started = time.monotonic()
        conn = http.client.HTTPConnection(host, port, timeout=30)
        try:
            conn.request("GET", parts.path or "/")
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                latencies.append((time.monotonic() - started) * 1000)
            else:
                failures += 1
        except OSError:
            failures += 1
        finally:
            conn.close()
        next_at += INTERVAL
        stop.wait(max(0.0, next_at - time.monotonic()))
    return latencies, failures


def main() -> int:
    stop = threading.Event()

    def until_stdin_closes() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    latencies, failures = probe(sys.argv[1], stop)
    json.dump({"latencies_ms": latencies, "failures": failures}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
