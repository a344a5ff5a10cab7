"""The rig of this suite: `run_service` (Hello, poller, processor, reports) with the Datadog connector, against the
fake ConductorOne (gRPC, TLS) and the fake Datadog behind `Wire` (tests/independent/writes/wire.py), which records
every request's raw path and can answer in Datadog's place or lose an answer after the write landed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog

from connector.baton.connector import Connector
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.runtime.metrics import Metrics
from connector.baton.runtime.service import StartupVerdict, run_service
from connector.datadog.client import DatadogClient
from connector.datadog.connector import DatadogConnector
from tests.datadog.helpers import FAST_RETRY
from tests.fakes.c1 import FakeC1
from tests.fakes.datadog import FakeDatadog
from tests.independent.service.rig import FinishRequest, config, one_report, until
from tests.independent.writes.conftest import ALL_ON
from tests.independent.writes.wire import Wire


class RawWire(Wire):
    """`Wire`, also keeping each request's path exactly as it went on the wire (percent-encoding and all)."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: list[tuple[str, str, bytes]] = []
        self.hosts: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.raw.append((request.method, request.url.raw_path.decode("ascii"), request.content))
        self.hosts.append(request.url.host)
        return await super().handle_async_request(request)

    def writes(self) -> list[tuple[str, str]]:
        """Every write the connector sent (method, raw path), whether it reached Datadog or a rule answered it."""
        return [(method, path) for method, path, _ in self.raw if method != "GET"]


class DatadogApp:
    """The Datadog connector as the runner sees it, its client talking through `wire`."""

    build_name = "baton-datadog"
    version = "0.0.0-jit"

    def __init__(self, fake: FakeDatadog, wire: Wire, max_response_bytes: int) -> None:
        self._fake, self._wire, self._max = fake, wire, max_response_bytes
        self.client: DatadogClient | None = None

    def open(self) -> Connector:
        self.client = DatadogClient(
            api_key=self._fake.api_key,
            app_key=self._fake.app_key,
            base_url=self._fake.base_url,
            retry=FAST_RETRY,
            transport=self._wire,
            max_response_bytes=self._max,
        )
        return DatadogConnector(self.client, ALL_ON)

    def startup_verdict(self, error: Exception) -> StartupVerdict | None:
        return None

    async def aclose(self) -> None:
        if self.client is not None:
            await self.client.aclose()


@dataclass
class Jit:
    c1: FakeC1
    datadog: FakeDatadog
    wire: RawWire
    service: asyncio.Task[int]
    stop: asyncio.Event
    events: list[MutableMapping[str, Any]]
    secrets: list[str] = field(default_factory=list)

    async def until(self, what: str, check: Callable[[], Any], within: float = 30.0) -> Any:
        return await until(self.service, what, check, within, lambda: self.events[-8:])

    async def run(self, task: baton_pb2.Task) -> FinishRequest:
        """Queue `task` and return its one accepted FinishTask."""
        self.c1.enqueue(task)
        return await self.finished(task.id)

    async def finished(self, task_id: str) -> FinishRequest:
        return await one_report(self.until, self.c1, task_id)

    def logged(self, event: str) -> list[MutableMapping[str, Any]]:
        return [e for e in self.events if e.get("event") == event]

    def assert_no_secret_anywhere(self) -> None:
        """No Datadog key, ConductorOne client secret or access token in any log event or any report."""
        said = json.dumps([dict(e) for e in self.events], default=repr)
        said += "".join(str(r) for r in self.c1.recorded().finish_attempts)
        for secret in [*self.secrets, *self.c1.recorded().issued_tokens]:
            assert secret not in said, "a secret was logged or reported"


@asynccontextmanager
async def jit(
    tmp_path: Path, datadog: FakeDatadog, *, max_response_bytes: int = 1 << 20, **changes: Any
) -> AsyncIterator[Jit]:
    """The runner serving the Datadog connector until the block ends, then stopped (exit code 0 checked)."""
    c1 = FakeC1().start()
    wire = RawWire()
    app = DatadogApp(datadog, wire, max_response_bytes)
    stop = asyncio.Event()
    try:
        with structlog.testing.capture_logs() as events:
            service = asyncio.create_task(
                run_service(config(c1, tmp_path, **changes), app, Metrics("baton_datadog", app.version), stop=stop)
            )
            rig = Jit(c1, datadog, wire, service, stop, events)
            rig.secrets = [datadog.api_key, datadog.app_key, c1.client_secret]
            try:
                await rig.until("the Hello", lambda: c1.recorded().hellos)
                wire.raw.clear()  # the key check at start-up
                datadog.reset_counters()
                yield rig
            finally:
                stop.set()
                code = await asyncio.wait_for(service, timeout=30)
            assert code == 0, f"the runner exited {code}"
            rig.assert_no_secret_anywhere()
    finally:
        c1.stop()
