"""The rig of the second service-mode suite: the real service runner (`run_service`) with the wiki connector of
`tests/baton/second_connector`, against the fake ConductorOne over gRPC and TLS on 127.0.0.1, as in
`tests/independent/service/rig.py`, but with the daemon's own log configuration (`connector/daemon/logging.py`:
JSON, the redactor, the debugged task's capture of docs/spec/service-mode.md §3.8) writing to a buffer, so a test
reads what an operator's log and a debug asset would hold, and registered canaries stand for the secrets the daemon
keeps for its life (the Datadog API and application keys, the client secret).
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from connector.baton.runtime.metrics import Metrics
from connector.baton.runtime.service import run_service
from connector.daemon import logging as logs
from tests.baton.second_connector.wiki import Wiki, WikiApp
from tests.fakes.c1 import FakeC1
from tests.independent.service.rig import PREFIX, FinishRequest, config, one_report, until, wiki

API_KEY = "canary-api-key-5b1e0c7d2a9f4e36"
APP_KEY = "canary-app-key-9d3c6a0f1b7e4d28a5c2"
CANARIES = (API_KEY, APP_KEY)


@contextmanager
def daemon_logging(level: str = "info") -> Iterator[io.StringIO]:
    """The daemon's log configuration, writing JSON lines to the returned buffer, with the canaries registered as the
    daemon registers its secrets; the configuration the test suite runs under is put back after."""
    out = io.StringIO()
    logs.configure(level, "json", out)
    for canary in CANARIES:
        logs.register_secret(canary)
    try:
        yield out
    finally:
        logs.configure("info", "json", io.StringIO())


@dataclass
class Logged:
    fake: FakeC1
    wiki: Wiki
    service: asyncio.Task[int]
    stop: asyncio.Event
    metrics: Metrics
    stream: io.StringIO

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]

    def logged(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("event") == event]

    async def until(self, what: str, check: Callable[[], Any], within: float = 30.0) -> Any:
        return await until(self.service, what, check, within, lambda: self.lines()[-8:])

    async def finished(self, task_id: str, within: float = 30.0) -> FinishRequest:
        return await one_report(self.until, self.fake, task_id, within)

    def secrets(self) -> list[str]:
        """Every secret a log line, a metric, a report or an asset must never hold: the canaries, the client secret
        and its private key, and every access token ConductorOne issued."""
        return [
            *CANARIES,
            self.fake.client_secret,
            self.fake.credentials.private_d,
            *self.fake.recorded().issued_tokens,
        ]

    def assert_no_secret_anywhere(self) -> None:
        recorded = self.fake.recorded()
        places: dict[str, bytes] = {
            "the log": self.stream.getvalue().encode(),
            "/metrics": _exposition(self.metrics),
            "the reports": b"".join(r.SerializeToString() for rs in recorded.finish_tasks.values() for r in rs),
            "the Hellos": b"".join(h.SerializeToString() for h in recorded.hellos),
        }
        for upload in recorded.uploads:
            if upload.path is not None and upload.path.exists():
                places[f"the asset {upload.path.name}"] = upload.path.read_bytes()
        for secret in self.secrets():
            for place, data in places.items():
                assert secret.encode() not in data, f"a secret ({secret[:6]}…) reached {place}"


def _exposition(metrics: Metrics) -> bytes:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry)


@asynccontextmanager
async def logged_service(
    tmp_path: Path, fake: FakeC1 | None = None, *, level: str = "info", the_wiki: Wiki | None = None, **changes: Any
) -> AsyncIterator[Logged]:
    """The runner under the daemon's logging (`daemon_logging`) against `fake` (a new one if not given) until the
    block ends; then a stop, a drain and the exit code checked to be 0. The client secret is registered as the
    daemon's wiring registers it, and each access token as the wiring hears it (`on_token`)."""
    own = fake is None
    fake = fake or FakeC1().start()
    the_wiki = the_wiki or wiki()
    app = WikiApp(the_wiki)
    metrics = Metrics(PREFIX, app.version)
    stop = asyncio.Event()
    try:
        with daemon_logging(level) as stream:
            logs.register_secret(fake.client_secret)
            settings = replace(
                config(fake, tmp_path, **changes),
                on_token=lambda token: logs.register_rotating_secret("c1_access_token", token),
            )
            service = asyncio.create_task(run_service(settings, app, metrics, stop=stop))
            rig = Logged(fake, the_wiki, service, stop, metrics, stream)
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
