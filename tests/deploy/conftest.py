"""Fixtures for the deploy checks. The chart tests need the deploy tooling (requirements-deploy.txt) and skip
without it; the checks of deploy/ and the Dockerfile need nothing beyond the test extras."""

from __future__ import annotations

import os

import pytest

from connector.daemon.settings import ENV_PREFIX


@pytest.fixture
def clean_baton_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No BATON_* variable from the test runner's own environment leaks into a settings load."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)
    return monkeypatch
