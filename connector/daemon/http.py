"""The operability HTTP server: /healthz (liveness), /readyz (readiness), /metrics (Prometheus); the baton-sdk
paths /live, /health (liveness) and /ready (readiness) answer the same, so SDK-style probes work unchanged.

aiohttp serves it on the daemon's own event loop, so /healthz answering proves that loop is alive; it
makes no outside call, so a Datadog or ConductorOne outage never restarts the pod.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from connector.daemon.metrics import CONTENT_TYPE, Metrics

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
# baton-sdk's health server paths (its --health-check settings), kept as aliases of ours.
SDK_HEALTH_PATHS = ("/health", "/live")
SDK_READY_PATHS = ("/ready",)


def _status(status: str, code: int, **details: object) -> web.Response:
    body = {"status": status, "timestamp": datetime.now(UTC).isoformat(timespec="seconds"), **details}
    return web.Response(status=code, text=json.dumps(body), content_type="application/json")


class OpsServer:
    def __init__(self, metrics: Metrics, readiness: Callable[[], tuple[bool, str]], host: str, port: int) -> None:
        self._metrics = metrics
        self._readiness = readiness
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.bound_port: int | None = None

    async def start(self) -> None:
        app = web.Application()
        for path in (HEALTH_PATH, *SDK_HEALTH_PATHS):
            app.router.add_get(path, self._healthz)
        for path in (READY_PATH, *SDK_READY_PATHS):
            app.router.add_get(path, self._readyz)
        app.router.add_get(METRICS_PATH, self._metrics_page)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        addresses = self._runner.addresses
        self.bound_port = int(addresses[0][1]) if addresses else self._port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _: web.Request) -> web.Response:
        return _status("ok", 200)

    async def _readyz(self, _: web.Request) -> web.Response:
        ready, why = self._readiness()
        return _status("ready", 200) if ready else _status("not_ready", 503, reason=why)

    async def _metrics_page(self, _: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE})
