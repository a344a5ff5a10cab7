"""The in-process rig of this suite: the real service runner (`run_service`: Hello, poller, task processor, full-sync
handler, uploads, reports, health server) with the wiki connector of `tests/baton/second_connector`, against the fake
ConductorOne over gRPC and TLS on 127.0.0.1. Faster than a subprocess and as real on the wire; what only a process
shows (signals, stderr) is left to the e2e suite.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import structlog

from connector.baton import builders as b
from connector.baton.c1 import parse_client_id, parse_client_secret, resolve_endpoints
from connector.baton.ksuid import new_ksuid
from connector.baton.pb.c1.connector.v2 import resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.runtime.metrics import Metrics
from connector.baton.runtime.service import ServiceConfig, run_service
from connector.baton.sync.syncer import SyncOptions
from tests.baton.second_connector.wiki import ACCOUNT, SPACE, Wiki, WikiApp
from tests.fakes.c1 import FakeC1

PREFIX = "baton_wiki"
FinishRequest = baton_pb2.BatonServiceFinishTaskRequest


def wiki() -> Wiki:
    return Wiki(
        accounts={"ana@wiki.example": "Ana", "bo@wiki.example": "Bo"},
        spaces={"7": "Handbook", "12": "Incidents", "105": "Payroll"},
        members={("7", "reader", "ana@wiki.example"), ("12", "editor", "bo@wiki.example")},
    )


def config(fake: FakeC1, tmp_path: Path, **changes: Any) -> ServiceConfig:
    credentials = fake.credentials
    client_id = parse_client_id(credentials.client_id)
    base = ServiceConfig(
        client_id=client_id,
        secret=parse_client_secret(credentials.client_secret),
        endpoints=resolve_endpoints(client_id),
        api_host=None,
        host_id="service-suite-host",
        root_certificates=fake.ca_pem,
        token_verify=fake.ssl_context(),
        token_timeout=10.0,
        backoff_scale=0.01,
        ready_window_seconds=60.0,
        health_check=True,
        health_check_bind_address="127.0.0.1",
        health_check_port=0,
        temp_dir=tmp_path,
        skip_full_sync=False,
        sync_resource_types=(),
        sync_options=SyncOptions(),
        provisioning=True,
        task_concurrency=2,
        sync_interval=0.0,
        sync_file=tmp_path / "sync.c1z",
        shutdown_grace_seconds=5.0,
    )
    return replace(base, **changes)


def space_task(kind: str, space: str, level: str, email: str, task_id: str | None = None) -> baton_pb2.Task:
    """A grant or revoke of `level` in wiki space `space` for account `email`, as ConductorOne sends it."""
    res = resource_pb2.Resource(id=b.resource_id(SPACE.id, space))
    entitlement = b.entitlement(res, level)
    principal = resource_pb2.Resource(id=b.resource_id(ACCOUNT.id, email))
    task = baton_pb2.Task(id=task_id or new_ksuid())
    if kind == "grant":
        task.grant.entitlement.CopyFrom(entitlement)
        task.grant.principal.CopyFrom(principal)
    else:
        task.revoke.grant.CopyFrom(b.grant(res, level, principal.id))
    return task


async def until(
    service: asyncio.Task[int], what: str, check: Callable[[], Any], within: float, recent: Callable[[], object]
) -> Any:
    """Poll `check` (run on a worker thread: it may read the fake under its lock) until it is truthy; a runner that
    ends first, or a wait that runs out, fails naming `what` (and what the runner logged last: `recent`)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if service.done():
            raise AssertionError(f"the runner ended while waiting for {what}: {service.result()!r}")
        value = await asyncio.to_thread(check)
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}; logged last: {recent()}")


async def one_report(
    wait: Callable[[str, Callable[[], Any], float], Awaitable[Any]], fake: FakeC1, task_id: str, within: float = 30.0
) -> FinishRequest:
    """The one accepted FinishTask of `task_id` (fails if there are two), waited for with a rig's `until`."""
    reports: list[FinishRequest] = await wait(
        f"the report of {task_id}", lambda: fake.recorded().finish_tasks.get(task_id), within
    )
    assert len(reports) == 1, f"task {task_id} reported {len(reports)} times: {reports}"
    return reports[0]


@dataclass
class Running:
    fake: FakeC1
    wiki: Wiki
    service: asyncio.Task[int]
    stop: asyncio.Event
    metrics: Metrics
    events: list[MutableMapping[str, Any]]

    async def until(self, what: str, check: Callable[[], Any], within: float = 30.0) -> Any:
        return await until(self.service, what, check, within, lambda: self.events[-8:])

    async def finished(self, task_id: str, within: float = 30.0) -> FinishRequest:
        return await one_report(self.until, self.fake, task_id, within)

    def logged(self, event: str) -> list[MutableMapping[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    def metric(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(f"{PREFIX}_{name}", labels)
        return 0.0 if value is None else value


@asynccontextmanager
async def running(
    tmp_path: Path, fake: FakeC1 | None = None, the_wiki: Wiki | None = None, **changes: Any
) -> AsyncIterator[Running]:
    """The runner serving against `fake` (a new one if not given) until the block ends; then a stop, a drain and the
    runner's exit code checked to be 0."""
    own = fake is None
    fake = fake or FakeC1().start()
    the_wiki = the_wiki or wiki()
    app = WikiApp(the_wiki)
    metrics = Metrics(PREFIX, app.version)
    stop = asyncio.Event()
    try:
        with structlog.testing.capture_logs() as events:
            service = asyncio.create_task(run_service(config(fake, tmp_path, **changes), app, metrics, stop=stop))
            rig = Running(fake, the_wiki, service, stop, metrics, events)
            try:
                await rig.until("the Hello", lambda: fake.recorded().hellos)
                yield rig
            finally:
                stop.set()
                code = await asyncio.wait_for(service, timeout=30)
            assert code == 0, f"the runner exited {code}"
    finally:
        if own:
            fake.stop()
