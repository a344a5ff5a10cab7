"""Review r1702: `config` says every start-up warning the run gives (keys sent over plain http included), redacted as
the run's lines are."""

from __future__ import annotations

import os

import pytest

from connector.daemon.main import start_warnings
from connector.daemon.settings import load_effective
from tests.daemon.cli import run_cli_in_process

KEYS = ["--api-key", "0123456789abcdef0123456789abcdef", "--app-key", "0123456789abcdef0123456789abcdef01234567"]
# A plain-http root off loopback, allowed: the run warns at start that the keys go unencrypted. Never connected to.
INSECURE = ["--base-url", "http://10.1.2.3:8080", "--insecure-base-url"]


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith(("BATON_", "DD_", "DATADOG_", "GRPC_"))]:
        monkeypatch.delenv(name)


def test_config_says_the_runs_insecure_start_warning() -> None:
    settings = load_effective([*KEYS, *INSECURE]).settings
    said = [line for line in start_warnings(settings) if line.startswith("INSECURE")]
    assert said  # what every run logs at start
    assert "unencrypted" in said[0]
    done = run_cli_in_process(*KEYS, *INSECURE, "config")
    assert done.returncode == 0, done.stderr
    assert "unencrypted" in done.stderr, f"config's stderr: {done.stderr!r}"


def test_config_hides_the_key_in_a_start_warning_as_the_run_does() -> None:
    # The run logs this warning with the key [REDACTED] (its redactor holds the keys); config's `found.warned` lines go
    # through `logs.redact(line, also=secrets)`, the `start_warnings` lines do not.
    key = KEYS[1]
    done = run_cli_in_process(*KEYS, "config", env={"TMPDIR": f"/nonexistent/{key}"})
    assert "TMPDIR" in done.stderr, done.stderr
    assert key not in done.stderr, done.stderr
