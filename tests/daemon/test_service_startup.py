"""Service-mode start-up under hostile networks: SIGTERM is honoured at once, whatever the daemon waits on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.c1.creds import generate_client_credentials
from tests.fakes.net import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A loopback port that accepts connections and never answers (a silently dropping firewall)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


@pytest.mark.parametrize("stuck_on", ["datadog", "conductorone"])
def test_sigterm_during_startup_exits_0_promptly(blackhole: int, stuck_on: str, tmp_path: Path) -> None:
    creds = generate_client_credentials("tenant.example.com")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "BATON_CLIENT_ID": creds.client_id,
        "BATON_CLIENT_SECRET": creds.client_secret,
        # Datadog stuck, or Datadog refused at once (so start-up moves on) and ConductorOne stuck.
        "BATON_BASE_URL": f"http://127.0.0.1:{blackhole if stuck_on == 'datadog' else free_port()}",
        "BATON_C1_API_HOST": f"127.0.0.1:{blackhole if stuck_on == 'conductorone' else free_port()}",
        "BATON_API_KEY": "k" * 32,
        "BATON_APP_KEY": "a" * 40,
        "BATON_HEALTH_CHECK_BIND_ADDRESS": "127.0.0.1",
        "BATON_HEALTH_CHECK_PORT": str(port),
        "BATON_LOG_FORMAT": "json",
    }
    daemon = subprocess.Popen(
        [sys.executable, "-m", "connector"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "the health server never came up"
                time.sleep(0.1)
        time.sleep(1.0)  # now waiting on the stuck peer
        sent = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=10)
        assert code == 0
        assert time.monotonic() - sent < 3.0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    output = daemon.stdout.read().decode() if daemon.stdout else ""
    assert creds.client_secret not in output
