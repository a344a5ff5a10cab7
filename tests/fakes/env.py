"""The environment of a connector process pointed at the fakes: nothing from the caller's but PATH, and the tree under
test on PYTHONPATH."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from tests.fakes.c1 import FakeC1
from tests.fakes.datadog import FakeDatadog

TREE = Path(__file__).resolve().parents[2]
"""The checkout these tests are in. Its code is what the connector process runs: the console script imports the
package the virtualenv installed, and a venv shared by several checkouts (a worktree's) ran another checkout's code."""


def connector_env(dd: FakeDatadog, c1: FakeC1 | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Datadog settings for `dd`; with `c1`, service mode against it and a health server on a loopback port.

    The health port is 0: the daemon binds whatever port it gets and logs it (`tests.fakes.net.logged_health_port`).
    """
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "PYTHONPATH": str(TREE),
        "BATON_API_KEY": dd.api_key,
        "BATON_APP_KEY": dd.app_key,
        "BATON_BASE_URL": dd.base_url,
        "BATON_LOG_FORMAT": "json",
    }
    if c1 is not None:
        env |= c1.env() | {"BATON_HEALTH_CHECK_BIND_ADDRESS": "127.0.0.1", "BATON_HEALTH_CHECK_PORT": "0"}
    return env | dict(extra or {})
