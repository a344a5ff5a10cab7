"""`--health-check-port 0`: the daemon binds a port the OS chooses and says which in its log, so a caller (a test
harness, a sidecar) finds it without guessing a free port."""

from __future__ import annotations

from tests.e2e.harness import Stack


def test_port_zero_binds_and_logs_the_real_port(stack: Stack) -> None:
    daemon = stack.start({"BATON_HEALTH_CHECK_PORT": "0"}, wait_ready=False)
    (record,) = daemon.wait_for(
        lambda: daemon.events("health server listening"), timeout=20, what="the health server's log line"
    )
    assert record["address"] == "127.0.0.1"
    assert record["port"] > 0
    assert daemon.health_port == record["port"]  # what the harness reads back for every test
    daemon.wait_ready()
    for path in ("/healthz", "/health", "/live", "/readyz", "/ready"):
        assert daemon.status(path) == 200, path
