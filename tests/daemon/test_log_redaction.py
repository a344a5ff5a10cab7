"""The log redactor knows the ConductorOne access tokens the daemon fetched lately, and only the newest few."""

from __future__ import annotations

from typing import Any

import pytest

from connector.baton.runtime import service as runtime_service
from connector.daemon import logging as logs
from connector.daemon import service
from connector.daemon.settings import load
from tests.fakes.c1.creds import generate_client_credentials


@pytest.fixture(autouse=True)
def fresh_redactor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "_rotating", {})
    monkeypatch.setattr(logs, "_known", ())


def test_the_newest_tokens_are_redacted_and_the_set_stays_bounded() -> None:
    tokens = [f"canary-access-token-{n:04d}" for n in range(3 * logs.ROTATING_KEPT)]
    for token in tokens:
        logs.register_rotating_secret("c1_access_token", token)
    newest = tokens[-logs.ROTATING_KEPT :]
    assert logs.redact(" ".join(newest)) == " ".join([logs.REDACTED] * logs.ROTATING_KEPT)
    # One token an hour for a year would otherwise be 8,760 strings scanned for in every log line.
    assert sum(len(kept) for kept in logs._rotating.values()) == logs.ROTATING_KEPT
    assert logs.redact("x") == "x"


def test_a_short_value_is_no_secret_to_redact() -> None:
    logs.register_rotating_secret("c1_access_token", "abc")
    assert logs.redact("abc abc") == "abc abc"


async def test_service_mode_hands_every_fetched_token_to_the_log_redactor(monkeypatch: pytest.MonkeyPatch) -> None:
    creds = generate_client_credentials("tenant.example.com")
    for name, value in {
        "BATON_CLIENT_ID": creds.client_id,
        "BATON_CLIENT_SECRET": creds.client_secret,
        "BATON_API_KEY": "canary-api-key-1234",
        "BATON_APP_KEY": "canary-app-key-5678",
    }.items():
        monkeypatch.setenv(name, value)
    seen: dict[str, Any] = {}

    async def runner(config: Any, app: Any, metrics: Any) -> int:
        seen["on_token"] = config.on_token
        return 0

    monkeypatch.setattr(runtime_service, "run_service", runner)
    assert await service.run_service_mode(load([])) == 0
    seen["on_token"]("canary-bearer-token-9f8e7d")
    assert logs.redact("authorization: Bearer canary-bearer-token-9f8e7d") == f"authorization: Bearer {logs.REDACTED}"
