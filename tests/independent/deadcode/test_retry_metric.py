"""`DatadogApiMetrics` (connector/daemon/metrics.py): a retry the Datadog transport schedules (`RetryScheduled`) is
counted on `baton_datadog_api_retries_total` by its reason, each reason its own series; no test sent it one, and the
counter the chart's dashboard plots (docs/deployment.md's metrics table) was never seen to move."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from connector.daemon.metrics import daemon_metrics
from connector.datadog.stats import RetryScheduled


def test_each_scheduled_retry_is_counted_by_its_reason() -> None:
    metrics, datadog = daemon_metrics()
    for reason in ("http_503", "http_503", "ConnectError"):
        datadog(RetryScheduled(group="users", reason=reason, attempt=1, delay=0.5))
    counted = {
        s.labels["reason"]: s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
        if s.name == "baton_datadog_api_retries_total"
    }
    assert counted == {"http_503": 2, "ConnectError": 1}
