"""`make demo`'s fourth step, read by a newcomer: the metrics that say what the demo did (a sync, a grant and a
revoke succeeded; the Datadog requests they made), not the 36 failure series a run exports at 0 from the start
(docs/deployment.md, `baton_datadog_tasks_finished_total`), which filled the screen around them."""

from __future__ import annotations

from scripts.demo import metrics_excerpt

SCRAPE = """\
# HELP baton_datadog_tasks_finished_total ConductorOne tasks finished
# TYPE baton_datadog_tasks_finished_total counter
baton_datadog_tasks_finished_total{outcome="failed_final",type="grant"} 0.0
baton_datadog_tasks_finished_total{outcome="not_run",type="revoke"} 0.0
baton_datadog_tasks_finished_total{outcome="success",type="sync_full"} 1.0
baton_datadog_tasks_finished_total{outcome="success",type="grant"} 1.0
baton_datadog_tasks_received_total{type="grant"} 1.0
baton_datadog_api_requests_total{group="users",status="2xx"} 2.0
baton_datadog_api_requests_total{group="roles",status="5xx"} 0.0
baton_datadog_api_request_duration_seconds_count{group="users"} 2.0
"""


def test_the_excerpt_lists_what_happened_and_counts_the_zeros() -> None:
    assert metrics_excerpt(SCRAPE) == [
        'baton_datadog_tasks_finished_total{outcome="success",type="sync_full"} 1.0',
        'baton_datadog_tasks_finished_total{outcome="success",type="grant"} 1.0',
        'baton_datadog_api_requests_total{group="users",status="2xx"} 2.0',
        "(3 more series at 0)",
    ]


def test_nothing_at_zero_adds_no_count_line() -> None:
    assert metrics_excerpt('baton_datadog_api_requests_total{group="users",status="2xx"} 1e+03\n') == [
        'baton_datadog_api_requests_total{group="users",status="2xx"} 1e+03'
    ]
