"""SIGTERM while a peer that took the connection stays silent (no ServerHello): from Datadog during a one-shot sync,
from Datadog and ConductorOne's token endpoint in the service. The wait is cut by the signal, not by the timeout
(30 s here): the process ends within the shutdown grace with its exit code and its closing words. A process that
outlives the bound asserted (generous: twice the documented one, or more) is a hang, killed and failed."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import wait_for
from tests.fakes.c1.creds import generate_client_credentials
from tests.independent.hangs.test_stalled_lookup import Run
from tests.independent.operator.conftest import assert_quiet


class SilentListener:
    """A TCP port on 127.0.0.1 that accepts connections, holds them and never writes a byte."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def silent() -> Iterator[SilentListener]:
    listener = SilentListener()
    yield listener
    listener.close()


@pytest.mark.slow  # a process start and its drain: ~6 s
def test_sigterm_while_datadog_sends_no_server_hello_ends_a_one_shot_sync_with_143(
    tmp_path: Path, silent: SilentListener
) -> None:
    args = ["--base-url", f"https://127.0.0.1:{silent.port}", "--http-timeout-seconds", "30"]
    run = Run(tmp_path, [*args, "--file", str(tmp_path / "s.c1z")], {})
    wait_for(lambda: silent.held or run.process.poll() is not None, timeout=60, what="a connection to the silent peer")
    assert silent.held, run.stderr[-2000:]
    run.process.send_signal(signal.SIGTERM)
    assert run.exit_code_within(20) == 128 + signal.SIGTERM
    assert run.closing_line() == "baton-datadog: interrupted by SIGTERM before the sync started; nothing was written"
    assert not (tmp_path / "s.c1z").exists()
    assert_quiet(run.stderr)


@pytest.mark.slow  # a process start and its drain: ~6 s
def test_sigterm_while_datadog_and_the_token_endpoint_send_no_server_hello_ends_the_service_with_0(
    tmp_path: Path, silent: SilentListener
) -> None:
    creds = generate_client_credentials(f"127.0.0.1:{silent.port}")
    run = Run(
        tmp_path,
        ["--base-url", f"https://127.0.0.1:{silent.port}", "--http-timeout-seconds", "30"],
        {
            "BATON_CLIENT_ID": creds.client_id,
            "BATON_CLIENT_SECRET": creds.client_secret,
            "BATON_SHUTDOWN_GRACE_SECONDS": "2",
            "BATON_HEALTH_CHECK_PORT": "0",
            "BATON_C1Z_TEMP_DIR": str(tmp_path),
        },
    )
    wait_for(lambda: silent.held or run.process.poll() is not None, timeout=60, what="a connection to the silent peer")
    assert silent.held, run.stderr[-2000:]
    run.process.send_signal(signal.SIGTERM)
    # The drain ends within 5 s of the grace (docs/service-mode.md, the report table's stop row): twice that.
    assert run.exit_code_within(2 * (2 + 5)) == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert creds.client_secret not in run.stderr
    assert_quiet(run.stderr)
