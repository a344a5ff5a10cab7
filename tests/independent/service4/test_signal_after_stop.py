"""A signal after the service has stopped (its drain over, its `stopped` line written) while asyncio's teardown still
runs: a second SIGTERM from a supervisor that sends one more (`docker stop` retried, systemd's after a reload), or a
second Ctrl-C. The runner puts back the handlers the program had as it returns, so the signal met the process's
defaults there: SIGTERM killed it without a word (-15 after a clean drain's `stopped`, exit 0 decided), and under the
CLI, whose SIGTERM handler stops "while starting", the pod's last line read "interrupted by SIGTERM while starting;
nothing was written" with exit 143. The one-shot run keeps its outcome the same way (tests/daemon/test_oneshot.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a process each (a signal's default ends it), ~3 s apiece: the one-shot's sibling's tier

ROOT = Path(__file__).resolve().parents[3]

# The service's settings are checked and its runner entered, which installs and removes its signal handlers; its serving
# (`_serve`: connect, Hello, poll, drain) is replaced by one that stops at once, as after a drain. Then a signal while
# the loop still runs.
_SIGNAL_AFTER_THE_SERVICE = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from connector.baton.runtime import service as runner
    from connector.daemon.service import run_service_mode
    from connector.daemon.settings import Settings
    from tests.fakes.c1.creds import generate_client_credentials

    async def drained(*args):
        return 0

    runner._serve = drained
    creds = generate_client_credentials("tenant.example.com")
    settings = Settings(
        client_id=creds.client_id, client_secret=creds.client_secret, api_key="k" * 32, app_key="a" * 40,
        base_url="http://127.0.0.1:9", c1_api_host="127.0.0.1:9", health_check=False,
    )

    async def main():
        code = await run_service_mode(settings)
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
        await asyncio.sleep(0.2)
        return code

    print(asyncio.run(main()))
    """
)


# The same under the CLI (`baton-datadog`), its settings from the environment: the signal comes once the service mode
# has returned, before the CLI's own end.
_SIGNAL_AFTER_THE_CLI_SERVICE = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from connector import cli
    from connector.baton.runtime import service as runner
    from connector.daemon import service
    from tests.fakes.c1.creds import generate_client_credentials

    async def drained(*args):
        return 0

    runner._serve = drained
    served = service.run_service_mode
    sig = getattr(signal, sys.argv.pop(1))  # the CLI reads the rest of argv: none

    async def then_signalled(settings):
        code = await served(settings)
        os.kill(os.getpid(), sig)
        await asyncio.sleep(0.2)
        return code

    service.run_service_mode = then_signalled
    creds = generate_client_credentials("tenant.example.com")
    os.environ.update(
        BATON_CLIENT_ID=creds.client_id, BATON_CLIENT_SECRET=creds.client_secret, BATON_API_KEY="k" * 32,
        BATON_APP_KEY="a" * 40, BATON_BASE_URL="http://127.0.0.1:9", BATON_C1_API_HOST="127.0.0.1:9",
        BATON_HEALTH_CHECK="false",
    )
    sys.exit(cli.run())
    """
)


def _run(script: str, sig: signal.Signals) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, sig.name],
        env={k: v for k, v in os.environ.items() if not k.startswith("BATON_")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_after_the_service_stopped_does_not_change_its_exit(sig: signal.Signals) -> None:
    done = _run(_SIGNAL_AFTER_THE_SERVICE, sig)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.splitlines()[-1] == "0", "the service's own exit code"
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_after_the_service_stopped_under_the_cli_leaves_its_exit_and_says_so(sig: signal.Signals) -> None:
    done = _run(_SIGNAL_AFTER_THE_CLI_SERVICE, sig)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert "interrupted" not in done.stderr
    assert "signal received as the run ended; the run's outcome stands" in done.stderr.splitlines()[-1]
