"""Shared by the first-hour suite: canary keys no output may carry, and the check every command's output passes."""

from __future__ import annotations

API_KEY = "canaryfirsthourapikey0123456789a"
APP_KEY = "canaryfirsthourappkey0123456789abcdef012"
SECRET = "canary-first-hour-secret-7c1d"
SECRETS = (API_KEY, APP_KEY, SECRET)
KEYS = {"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY}


def assert_quiet(*streams: str) -> None:
    """No traceback and no canary in anything the command wrote."""
    for stream in streams:
        assert "Traceback" not in stream, stream[-2000:]
        for secret in SECRETS:
            assert secret not in stream
