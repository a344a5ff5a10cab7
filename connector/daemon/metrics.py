"""The daemon's metrics: the runner's (connector/baton/runtime/metrics.py) under the `baton_datadog` prefix, plus
the Datadog API series `baton_datadog_api_*` fed by the Datadog client's events (connector/datadog/stats.py).

Labels stay low-cardinality: endpoint group, status class, rate-limit cause, retry reason. docs/runbook.md, the
chart's alerts and its dashboard use these names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from connector.baton.runtime.metrics import Metrics
from connector.daemon import logging as logs
from connector.daemon.version import package_version
from connector.datadog.stats import RATE_LIMIT_CAUSES, ClientEvent, RateLimitWait, RequestDone, RetryScheduled

PREFIX = "baton_datadog"


class DatadogApiMetrics:
    """Datadog API calls, rate-limit waits and retries, in the runner's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.requests = Counter(
            f"{PREFIX}_api_requests_total",
            "Datadog API requests by endpoint group and status class (2xx..5xx, 429 apart, error: no response)",
            ["group", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            f"{PREFIX}_api_request_duration_seconds", "Datadog request latency", ["group"], registry=r
        )
        self.rate_limit_waits = Counter(
            f"{PREFIX}_api_rate_limit_waits_total", "Waits for a Datadog rate-limit window", ["cause"], registry=r
        )
        # At 0 from the start, as the task failures are (connector/baton/runtime/metrics.py): BatonDatadogRateLimited
        # reads increase(), which does not count the value a series first appears with (a first storm's waits).
        for cause in RATE_LIMIT_CAUSES:
            self.rate_limit_waits.labels(cause)
        self.rate_limit_wait_seconds = Counter(
            f"{PREFIX}_api_rate_limit_wait_seconds_total", "Seconds spent waiting for Datadog rate limits", registry=r
        )
        self.retries = Counter(f"{PREFIX}_api_retries_total", "Datadog requests retried", ["reason"], registry=r)
        # Each request's two series, looked up once per endpoint group and status label rather than per request:
        # `labels()` checks the values and takes a lock each time. 7.1 -> 3.5 us per request (37.8k -> 20.1k
        # instructions, callgrind; 1.2 % of a Datadog request's; perf50). Bounded as the labels are: a dozen groups
        # (names in the client's code) by at most eleven status labels (h11 reads three-digit statuses).
        self._done: dict[tuple[str, str], tuple[Counter, Histogram]] = {}

    def __call__(self, event: ClientEvent) -> None:
        """The Datadog client's `on_event` hook."""
        if isinstance(event, RequestDone):
            # 429 apart from the other 4xx: rate limiting is an operating condition, the rest are bugs or access.
            key = (event.group, "429" if event.status == 429 else event.status_class)
            series = self._done.get(key)
            if series is None:
                series = self._done[key] = self.requests.labels(*key), self.request_seconds.labels(event.group)
            series[0].inc()
            series[1].observe(event.seconds)
        elif isinstance(event, RateLimitWait):
            self.rate_limit_waits.labels(event.cause).inc()
            self.rate_limit_wait_seconds.inc(event.seconds)
        elif isinstance(event, RetryScheduled):
            self.retries.labels(event.reason).inc()


def daemon_metrics() -> tuple[Metrics, DatadogApiMetrics]:
    """Everything the service exports: the runner's metrics and, in the same registry, the Datadog API series and
    the log writes lost."""
    metrics = Metrics(PREFIX, package_version())
    dropped = Counter(
        f"{PREFIX}_log_writes_dropped",
        "Log lines lost because the log stream failed (broken pipe, disk full) or was not read (a full pipe: dropped, "
        "never waited for); the work went on",
        registry=metrics.registry,
    )
    logs.count_dropped_writes(dropped.inc)
    return metrics, DatadogApiMetrics(metrics.registry)
