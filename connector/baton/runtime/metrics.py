"""Prometheus metrics of the service runner, in a registry of their own: tasks, syncs, ConductorOne RPCs and
token fetches, readiness, build info. Labels are low-cardinality by design: task type, outcome, method, code,
resource type; never a user, team or task id.

Names follow Prometheus' conventions (`promtool check metrics` is clean, CI checks a live scrape): one prefix
per connector (`prefix`) and no stutter (`<prefix>_conductorone_*` are ConductorOne's),
base units in the name, `_total` on counters, no `_created` series, plus the standard `process_*` and
`python_*` collectors. A connector adds its own upstream series to `registry` under the same prefix.
docs/runbook.md, the chart's alerts and its dashboard use these names.
"""

from __future__ import annotations

import platform
import time

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from connector.baton.c1.client import RpcResult
from connector.baton.c1.token import TokenFetch
from connector.baton.sync.syncer import SyncResult
from connector.baton.tasks.outcome import FAILED_FINAL, FAILED_RETRYABLE
from connector.baton.tasks.processor import PROVISIONING_TASKS, UNREPORTED

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NOT_RUN = "not_run"
"""The outcome label of a task that could neither run nor be reported (`task_refused`)."""
FAILED_OUTCOMES = (FAILED_FINAL, FAILED_RETRYABLE, NOT_RUN, UNREPORTED)
"""Every `outcome` of `<prefix>_tasks_finished_total` but success."""
WATCHED_TASKS = (*sorted(PROVISIONING_TASKS), "sync_full")
"""The task types whose failure series exist at 0 from the start (see `Metrics.__init__`)."""


# `_created` series double the number of series and no dashboard or alert here reads them. The switch is
# process-wide in prometheus_client; the daemon has no other registry that would want them.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client


class Metrics:
    def __init__(self, prefix: str, version: str) -> None:
        """`prefix` starts every name; `version` is the connector's, for `<prefix>_build_info`."""
        r = self.registry = CollectorRegistry(auto_describe=True)
        for standard in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            r.register(standard)  # process_* and python_*: memory, CPU, open fds, GC
        Gauge(f"{prefix}_build_info", "Build of the running connector", ["version", "python"], registry=r).labels(
            version, platform.python_version()
        ).set(1)
        self.ready = Gauge(f"{prefix}_ready", "1 while /readyz says ready (the runner sets how it is read)", registry=r)
        self.tasks_received = Counter(
            f"{prefix}_tasks_received_total", "Tasks received from ConductorOne", ["type"], registry=r
        )
        self.tasks_finished = Counter(
            f"{prefix}_tasks_finished_total", "Tasks finished, by outcome", ["type", "outcome"], registry=r
        )
        # A counter series that first appears at 1 has no increase to Prometheus (increase() needs two samples), so
        # the first failed grant, revoke or sync of a process's life was invisible to the task-failure alert, and
        # with its threshold at 0 no lone failure ever fired it. The failures of the tasks that change or report
        # access are therefore exported at 0 from the start.
        for task_type in WATCHED_TASKS:
            for outcome in FAILED_OUTCOMES:
                self.tasks_finished.labels(task_type, outcome)
        self.tasks_in_flight = Gauge(f"{prefix}_tasks_in_flight", "Tasks running now", registry=r)
        self.task_duration = Histogram(
            f"{prefix}_task_duration_seconds",
            "Time from receiving a task to reporting it",
            ["type"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
            registry=r,
        )
        self.sync_duration = Histogram(
            f"{prefix}_sync_duration_seconds",
            "Duration of full syncs",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
            registry=r,
        )
        self.resources_synced = Gauge(
            f"{prefix}_resources_synced", "Resources in the last successful sync", ["resource_type"], registry=r
        )
        self.grants_synced = Gauge(
            f"{prefix}_grants_synced", "Grants in the last successful sync", ["resource_type"], registry=r
        )
        self.last_sync = Gauge(
            f"{prefix}_last_successful_sync_timestamp_seconds", "Unix time of the last successful sync", registry=r
        )
        self.upload_bytes = Counter(
            f"{prefix}_upload_bytes_total",
            "Bytes of c1z uploaded to ConductorOne, of the syncs it accepted",
            registry=r,
        )
        self.token_fetches = Counter(
            f"{prefix}_conductorone_token_fetches_total", "ConductorOne access-token requests", ["outcome"], registry=r
        )
        self.c1_rpcs = Counter(
            f"{prefix}_conductorone_rpcs_total", "ConductorOne RPCs by method and code", ["method", "code"], registry=r
        )
        self.c1_last_success = Gauge(
            f"{prefix}_conductorone_last_success_timestamp_seconds",
            "Unix time of the last successful ConductorOne RPC",
            registry=r,
        )
        self.c1_rpc_errors = Counter(
            f"{prefix}_conductorone_rpc_errors_total",
            "ConductorOne RPCs that did not succeed",
            ["method", "code"],
            registry=r,
        )

        self._shown_sync_started: float | None = None
        """When the full sync the sync gauges show began (`SyncResult.started`), once one was accepted."""

        self.c1_too_large = Counter(
            f"{prefix}_conductorone_responses_too_large_total",
            "ConductorOne answers refused for being over the gRPC message limit",
            ["method"],
            registry=r,
        )
        self.c1_partly_read = Counter(
            f"{prefix}_conductorone_answers_partly_read_total",
            "ConductorOne answers that did not decode whole, of which the parts that did were read",
            ["method"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # -- hooks the other layers call ----------------------------------------------------------------------

    def c1_call(self, result: RpcResult) -> None:
        self.c1_rpcs.labels(result.method, result.code).inc()
        if result.code == "OK":
            self.c1_last_success.set(time.time())
        else:
            self.c1_rpc_errors.labels(result.method, result.code).inc()
        if result.too_large:
            self.c1_too_large.labels(result.method).inc()
        if result.partly_read:
            self.c1_partly_read.labels(result.method).inc()

    def token_fetch(self, fetch: TokenFetch) -> None:
        self.token_fetches.labels("success" if fetch.ok else "failure").inc()

    def task_received(self, task_type: str) -> None:
        self.tasks_received.labels(task_type).inc()
        self.tasks_in_flight.inc()

    def task_finished(self, task_type: str, outcome: str, seconds: float) -> None:
        self.tasks_in_flight.dec()
        self.tasks_finished.labels(task_type, outcome).inc()
        self.task_duration.labels(task_type).observe(seconds)

    def task_refused(self, task_type: str) -> None:
        self.tasks_received.labels(task_type).inc()
        self.tasks_finished.labels(task_type, NOT_RUN).inc()

    def sync_succeeded(self, result: SyncResult, uploaded_bytes: int = 0) -> None:
        """A sync ended, its file was uploaded (`uploaded_bytes`) and ConductorOne accepted its report. Only a full
        sync sets the sync series: a targeted one (partial: the few resources ConductorOne asked for after a grant)
        says nothing of the org, and counted as the last successful sync it kept BatonDatadogSyncStale quiet while
        every full sync failed."""
        if uploaded_bytes:
            self.upload_bytes.inc(uploaded_bytes)
        if result.sync_type != "full":
            return
        self.sync_duration.observe(result.seconds)
        if self._shown_sync_started is not None and result.started < self._shown_sync_started:
            # An older view of the org than the one shown: two syncs ran side by side and the one begun first had its
            # report taken last (retried, or its upload longer). Its counts set last, the gauges said the org was as
            # that sync saw it before the other's, and ConductorOne holds both.
            return
        self._shown_sync_started = result.started
        # The counts of this sync, in full: the store leaves out a type without grants (and the whole map when
        # none has any), and a type not synced this time is not in it; the gauges kept the previous counts. Cleared
        # and set in one go, on the loop /metrics is rendered on, so no scrape sees half of it.
        resources = _counts(result.stats.get("resources_by_resource_type"))
        grants = _counts(result.stats.get("grants_by_resource_type"))
        self.resources_synced.clear()
        self.grants_synced.clear()
        for type_id, count in resources.items():
            self.resources_synced.labels(type_id).set(count)
        for type_id in resources.keys() | grants.keys():
            self.grants_synced.labels(type_id).set(grants.get(type_id, 0.0))
        self.last_sync.set(time.time())


def _counts(by_type: object) -> dict[str, float]:
    return {str(type_id): float(count) for type_id, count in by_type.items()} if isinstance(by_type, dict) else {}
