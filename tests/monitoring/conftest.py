"""One daemon against the fakes for the whole package, after a full sync: what Prometheus would scrape."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.harness import Daemon, Stack
from tests.fakes.c1 import FakeC1
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.fakes.tasks import kind_task


@dataclass
class Live:
    stack: Stack
    daemon: Daemon

    def scrape(self) -> str:
        response = self.daemon.get("/metrics")
        assert response is not None, self.daemon.tail()
        assert response.status_code == 200
        return response.text


@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    org = generate_org(users=8, seed=7, teams=2)
    api_key, app_key = f"mon-api-{secrets.token_hex(12)}", f"mon-app-{secrets.token_hex(16)}"
    with (
        FakeC1(next_poll=0.2, next_heartbeat=1.0) as c1,
        FakeDatadog(org, api_key=api_key, app_key=app_key) as dd,
    ):
        stack = Stack(c1=c1, dd=dd, root=Path(tmp_path_factory.mktemp("monitoring")))
        try:
            daemon = stack.start()
            task = kind_task("sync_full")
            c1.enqueue(task)
            daemon.wait_for(lambda: task.id in c1.recorded().finish_tasks, timeout=30, what="the sync's FinishTask")
            # The sync's series (synced counts, last success, upload bytes) are set once FinishTask's answer is back,
            # a moment after the fake recorded the report: a test scraping before then read the metrics of no sync.
            daemon.wait_no_task_in_flight()
            yield Live(stack, daemon)
        finally:
            stack.stop_all()
        for daemon in stack.daemons:
            assert not stack.leaks(daemon.output()), daemon.tail()
