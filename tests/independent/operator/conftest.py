"""Shared by the operator suite: the canary values no output may ever carry."""

from __future__ import annotations

API_KEY = "canaryoperatorapikey0123456789ab"
APP_KEY = "canaryoperatorappkey0123456789abcdef0123"
PASSWORD = "canary-operator-pw-5e1f"
SECRETS = (API_KEY, APP_KEY, PASSWORD)
KEYS = {"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY}


def assert_quiet(*streams: str) -> None:
    """No traceback and no canary in anything the command wrote."""
    for stream in streams:
        assert "Traceback" not in stream, stream[-2000:]
        for secret in SECRETS:
            assert secret not in stream
