"""Hostile Datadog answers at start-up never kill the daemon with a traceback (issue 11 §3), and a plain-http
base URL off loopback is refused unless explicitly allowed (issue 11, "Also")."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from connector.baton.runtime.service import check_connector
from connector.daemon.main import start_warnings
from connector.daemon.network import Trust
from connector.daemon.oneshot import datadog_client, insecure_warning
from connector.daemon.service import DatadogService
from connector.daemon.settings import Settings, SettingsError, load
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector, DatadogOptions
from tests.datadog.helpers import FAST_RETRY, loopback_trust
from tests.fakes.datadog import FakeDatadog, generate_org

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ["deep-json", "wrong-types", "numeric-id", "not-json", "bad-encoding", "html", "truncated", "gzip-bomb"]


@pytest.fixture
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=3, seed=3, teams=1, schedules=1)) as server:
        yield server


def _settings(fake: FakeDatadog) -> Settings:
    return Settings(api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", HOSTILE)
@pytest.mark.parametrize("path", ["/api/v1/validate", "/api/v2/users"])
async def test_service_key_check_survives_hostile_answers(fake: FakeDatadog, mode: str, path: str) -> None:
    """Service mode: an unreadable answer is a Datadog problem to log and outlive, not a crash."""
    fake.faults.hostile(mode, path=path, times=10)
    # Retrying as fast as the other tests' clients: with the daemon's backoff, each retryable answer waited out 3-6 s.
    async with DatadogClient(
        api_key=fake.api_key, app_key=fake.app_key, base_url=fake.base_url, retry=FAST_RETRY, verify=loopback_trust()
    ) as client:
        connector = DatadogConnector(client, DatadogOptions(site="datadoghq.com"))
        service = DatadogService(_settings(fake), Trust(None, None))
        with structlog.testing.capture_logs() as logs:
            await check_connector(service, connector, asyncio.Event())  # no StartupRefused: not fatal
    assert not [e for e in logs if e["log_level"] in ("error", "critical")]
    warnings = [e for e in logs if e["log_level"] == "warning"]
    # The second call only needs a 2xx (the key is proven); a body it cannot even read is named.
    assert warnings or path == "/api/v2/users"
    assert all(path in w["error"] for w in warnings)


@pytest.mark.parametrize("mode", ["deep-json", "wrong-types", "bad-encoding"])
def test_one_shot_names_the_bad_answer_and_exits_1_without_traceback(
    fake: FakeDatadog, mode: str, tmp_path: Path
) -> None:
    fake.faults.hostile(mode, path="/api/v1/validate", times=10)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    done = subprocess.run(
        [sys.executable, "-m", "connector", "--api-key", fake.api_key, "--app-key", fake.app_key,
         "--base-url", fake.base_url, "--file", str(tmp_path / "s.c1z")],
        env={**clean, "BATON_LOG_FORMAT": "json"}, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "/api/v1/validate" in done.stderr
    assert fake.api_key not in done.stdout + done.stderr


def test_plain_http_base_url_off_loopback_is_a_setting_error() -> None:
    with pytest.raises(
        SettingsError, match=r"--base-url \(BATON_BASE_URL\): plain http:// .*unencrypted.*BATON_INSECURE_BASE_URL"
    ):
        load(["--api-key", "k" * 32, "--app-key", "a" * 40, "--base-url", "http://dd-proxy.internal:8080"])


def test_insecure_base_url_allows_it_with_a_loud_warning() -> None:
    settings = load(
        ["--api-key", "k" * 32, "--app-key", "a" * 40, "--base-url", "http://dd-proxy.internal", "--insecure-base-url"]
    )
    client = datadog_client(settings, verify=None)
    assert client.base_url == "http://dd-proxy.internal"
    # Said once at start, by the run and by `config` alike (`main.start_warnings`).
    warning = insecure_warning(settings)
    assert warning is not None
    assert "INSECURE" in warning
    assert "http://dd-proxy.internal" in warning
    assert warning in start_warnings(settings)


def test_loopback_http_needs_no_flag() -> None:
    settings = load(["--api-key", "k" * 32, "--app-key", "a" * 40, "--base-url", "http://127.0.0.1:9"])
    assert settings.base_url == "http://127.0.0.1:9"
    assert settings.http_timeout_seconds == 30
