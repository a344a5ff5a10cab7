"""Prometheus metrics of the daemon, in a registry of their own. Labels are low-cardinality by design:
task type, outcome, endpoint group, status class, resource type; never a user, team or task id."""

from __future__ import annotations

import platform
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from connector.baton.c1.client import RpcResult
from connector.baton.c1.token import TokenFetch
from connector.baton.sync.syncer import SyncResult
from connector.daemon.version import package_version
from connector.datadog.stats import ClientEvent, RateLimitWait, RequestDone, RetryScheduled

PREFIX = "baton_datadog"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        Gauge(f"{PREFIX}_build_info", "Build of the running connector", ["version", "python"], registry=r).labels(
            package_version(), platform.python_version()
        ).set(1)
        self.ready = Gauge(f"{PREFIX}_ready", "1 once Hello succeeded and until draining starts", registry=r)
        self.tasks_received = Counter(
            f"{PREFIX}_tasks_received", "Tasks received from ConductorOne", ["type"], registry=r
        )
        self.tasks_finished = Counter(
            f"{PREFIX}_tasks_finished", "Tasks finished, by outcome", ["type", "outcome"], registry=r
        )
        self.tasks_failed = Counter(f"{PREFIX}_tasks_failed", "Tasks that ended in failure", ["type"], registry=r)
        self.tasks_in_flight = Gauge(f"{PREFIX}_tasks_in_flight", "Tasks running now", registry=r)
        self.task_duration = Histogram(
            f"{PREFIX}_task_duration_seconds",
            "Time from receiving a task to reporting it",
            ["type"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
            registry=r,
        )
        self.sync_duration = Histogram(
            f"{PREFIX}_sync_duration_seconds",
            "Duration of full syncs",
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200),
            registry=r,
        )
        self.resources_synced = Gauge(
            f"{PREFIX}_resources_synced", "Resources in the last successful sync", ["resource_type"], registry=r
        )
        self.grants_synced = Gauge(f"{PREFIX}_grants_synced", "Grants in the last successful sync", registry=r)
        self.last_sync = Gauge(
            f"{PREFIX}_last_successful_sync_timestamp_seconds", "Unix time of the last successful sync", registry=r
        )
        self.upload_bytes = Counter(f"{PREFIX}_upload_bytes", "Bytes of c1z uploaded to ConductorOne", registry=r)
        self.dd_requests = Counter(
            f"{PREFIX}_datadog_requests",
            "Datadog API requests by endpoint group and status",
            ["group", "status"],
            registry=r,
        )
        self.dd_request_seconds = Histogram(
            f"{PREFIX}_datadog_request_duration_seconds", "Datadog request latency", ["group"], registry=r
        )
        self.dd_rate_limit_waits = Counter(
            f"{PREFIX}_datadog_rate_limit_waits", "Waits for a Datadog rate-limit window", ["cause"], registry=r
        )
        self.dd_rate_limit_wait_seconds = Counter(
            f"{PREFIX}_datadog_rate_limit_wait_seconds", "Seconds spent waiting for Datadog rate limits", registry=r
        )
        self.dd_retries = Counter(f"{PREFIX}_datadog_retries", "Datadog requests retried", ["reason"], registry=r)
        self.token_fetches = Counter(
            f"{PREFIX}_c1_token_fetches", "ConductorOne access-token requests", ["outcome"], registry=r
        )
        self.c1_rpcs = Counter(
            f"{PREFIX}_c1_rpcs", "ConductorOne RPCs by method and code", ["method", "code"], registry=r
        )
        self.c1_rpc_errors = Counter(
            f"{PREFIX}_c1_rpc_errors", "ConductorOne RPCs that did not succeed", ["method", "code"], registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    # -- hooks the other layers call ----------------------------------------------------------------------

    def datadog_event(self, event: ClientEvent) -> None:
        if isinstance(event, RequestDone):
            self.dd_requests.labels(event.group, event.status_class).inc()
            self.dd_request_seconds.labels(event.group).observe(event.seconds)
        elif isinstance(event, RateLimitWait):
            self.dd_rate_limit_waits.labels(event.cause).inc()
            self.dd_rate_limit_wait_seconds.inc(event.seconds)
        elif isinstance(event, RetryScheduled):
            self.dd_retries.labels(event.reason).inc()

    def c1_call(self, result: RpcResult) -> None:
        self.c1_rpcs.labels(result.method, result.code).inc()
        if result.code != "OK":
            self.c1_rpc_errors.labels(result.method, result.code).inc()

    def token_fetch(self, fetch: TokenFetch) -> None:
        self.token_fetches.labels("success" if fetch.ok else "failure").inc()

    def task_received(self, task_type: str) -> None:
        self.tasks_received.labels(task_type).inc()
        self.tasks_in_flight.inc()

    def task_finished(self, task_type: str, outcome: str, seconds: float) -> None:
        self.tasks_in_flight.dec()
        self.tasks_finished.labels(task_type, outcome).inc()
        if outcome != "success":
            self.tasks_failed.labels(task_type).inc()
        self.task_duration.labels(task_type).observe(seconds)

    def sync_succeeded(self, result: SyncResult, uploaded_bytes: int = 0) -> None:
        self.sync_duration.observe(result.seconds)
        by_type = result.stats.get("resources_by_resource_type", {})
        if isinstance(by_type, dict):
            for type_id, count in by_type.items():
                self.resources_synced.labels(str(type_id)).set(float(count))
        grants = result.stats.get("grants", 0)
        self.grants_synced.set(float(grants) if isinstance(grants, int | float) else 0.0)
        self.last_sync.set(time.time())
        if uploaded_bytes:
            self.upload_bytes.inc(uploaded_bytes)
