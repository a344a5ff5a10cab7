"""Service-mode start-up under hostile networks: SIGTERM is honoured at once, whatever the daemon waits on."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.harness import ACT_TIMEOUT, wait_for
from tests.fakes.c1.creds import generate_client_credentials
from tests.fakes.net import logged_health_port, refusing_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Blackhole:
    """A loopback port that accepts connections and never answers (a silently dropping firewall)."""

    port: int
    held: list[socket.socket] = field(default_factory=list)


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    hole = Blackhole(int(server.getsockname()[1]))
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                hole.held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield hole
    stop.set()
    thread.join()
    for conn in hole.held:
        conn.close()
    server.close()


@pytest.mark.parametrize("stuck_on", ["datadog", "conductorone"])
def test_sigterm_during_startup_exits_0_promptly(blackhole: Blackhole, stuck_on: str, tmp_path: Path) -> None:
    creds = generate_client_credentials("tenant.example.com")
    log_path = tmp_path / "daemon.log"
    with refusing_port() as refused, log_path.open("w") as log_file:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "BATON_CLIENT_ID": creds.client_id,
            "BATON_CLIENT_SECRET": creds.client_secret,
            # Datadog stuck, or Datadog refused at once (so start-up moves on) and ConductorOne stuck.
            "BATON_BASE_URL": f"http://127.0.0.1:{blackhole.port if stuck_on == 'datadog' else refused}",
            "BATON_C1_API_HOST": f"127.0.0.1:{blackhole.port if stuck_on == 'conductorone' else refused}",
            "BATON_API_KEY": "k" * 32,
            "BATON_APP_KEY": "a" * 40,
            "BATON_HEALTH_CHECK_BIND_ADDRESS": "127.0.0.1",
            "BATON_HEALTH_CHECK_PORT": "0",
            "BATON_LOG_FORMAT": "json",
        }
        daemon = subprocess.Popen(
            [sys.executable, "-m", "connector"], env=env, cwd=ROOT, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            port = wait_for(
                lambda: logged_health_port(log_path.read_text().splitlines()),
                timeout=ACT_TIMEOUT,
                what="the health port",
            )
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=ACT_TIMEOUT) as r:
                assert r.status == 200
            # Now waiting on the stuck peer: it has accepted a connection that will never be answered.
            wait_for(lambda: blackhole.held, timeout=ACT_TIMEOUT, what=f"a connection to the stuck {stuck_on}")
            daemon.send_signal(signal.SIGTERM)
            # Far below the 300 s HTTP timeout and the 5 min Hello backoff it would otherwise wait out.
            assert daemon.wait(timeout=ACT_TIMEOUT) == 0
        finally:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait()
    assert creds.client_secret not in log_path.read_text()
    # The stop's closing line, as after any stop: the pod's last lines say it stopped, and where.
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    (stopped,) = [r for r in records if r["event"] == "stopped"]
    assert (stopped["lifecycle"], stopped["tasks_unreported"]) == (True, 0)
    # Datadog refused is retried by the startup check, beside which the token is fetched: either may be under way.
    assert stopped["during"] in ("the startup check", "the Hello")


@pytest.mark.parametrize("case", ["temp-dir-missing", "periodic-file-not-a-c1z"])
def test_service_files_it_could_never_write_are_a_setting_error_at_start(case: str, tmp_path: Path) -> None:
    """One-shot refused them with exit 2; the service came up ready and failed every sync on them instead."""
    from tests.daemon.cli import last_line, run_cli

    creds = generate_client_credentials("tenant.example.com")
    not_c1z = tmp_path / "notes.txt"
    not_c1z.write_text("not a sync file\n")
    extra = (
        {"BATON_C1Z_TEMP_DIR": str(tmp_path / "missing")}
        if case == "temp-dir-missing"
        else {"BATON_SYNC_INTERVAL": "60", "BATON_FILE": str(not_c1z)}
    )
    with refusing_port() as refused:
        done = run_cli(
            env={
                "BATON_CLIENT_ID": creds.client_id,
                "BATON_CLIENT_SECRET": creds.client_secret,
                "BATON_BASE_URL": f"http://127.0.0.1:{refused}",
                "BATON_C1_API_HOST": f"127.0.0.1:{refused}",
                "BATON_API_KEY": "k" * 32,
                "BATON_APP_KEY": "a" * 40,
                "BATON_HEALTH_CHECK_PORT": "0",
                **extra,
            },
            timeout=60,
        )
    assert done.returncode == 2, done.stderr[-2000:]
    setting = "--c1z-temp-dir (BATON_C1Z_TEMP_DIR)" if case == "temp-dir-missing" else "--file (BATON_FILE)"
    assert last_line(done.stderr).startswith(f"baton-datadog: setting {setting}: "), done.stderr[-2000:]
    assert "health server listening" not in done.stderr
    assert not_c1z.read_text() == "not a sync file\n"
    assert creds.client_secret not in done.stdout + done.stderr
