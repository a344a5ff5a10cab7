"""Fixtures: a fake ConductorOne and a fake Datadog per test, and a `Stack` that runs daemons against them.

Every daemon a test starts is stopped at teardown (SIGTERM, then SIGKILL), and its whole output is checked for
every secret it was given or issued: no e2e run may log a credential, whatever the test was about.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Stack
from tests.fakes.c1 import FakeC1
from tests.fakes.datadog import FakeDatadog, generate_org

ORG_SEED = 20
ORG_USERS = 30
ORG_TEAMS = 5


@pytest.fixture
def fake_c1() -> Iterator[FakeC1]:
    # A 0.2 s poll pace keeps the daemon from spinning on an idle queue; a 1 s heartbeat (the minimum the
    # daemon honours) makes periodic heartbeats visible within a short sync.
    with FakeC1(next_poll=0.2, next_heartbeat=1.0) as fake:
        yield fake


@pytest.fixture
def fake_datadog() -> Iterator[FakeDatadog]:
    # Distinctive keys of secret length, so a leak is found by a plain substring search.
    org = generate_org(users=ORG_USERS, seed=ORG_SEED, teams=ORG_TEAMS)
    api_key = f"e2e-canary-api-{secrets.token_hex(12)}"
    app_key = f"e2e-canary-app-{secrets.token_hex(16)}"
    with FakeDatadog(org, api_key=api_key, app_key=app_key) as fake:
        yield fake


@pytest.fixture
def stack(fake_c1: FakeC1, fake_datadog: FakeDatadog, tmp_path: Path) -> Iterator[Stack]:
    running = Stack(c1=fake_c1, dd=fake_datadog, root=tmp_path)
    try:
        yield running
    finally:
        running.stop_all()
    for n, daemon in enumerate(running.daemons, start=1):
        leaked = running.leaks(daemon.output())
        assert not leaked, f"daemon #{n} wrote secrets to its output: {leaked}\n{daemon.tail()}"
