"""The metrics hooks: what each event of the other layers becomes on /metrics."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from connector.baton.c1.client import RpcResult
from connector.baton.runtime.metrics import Metrics
from connector.baton.sync.syncer import SyncResult
from connector.daemon.metrics import daemon_metrics
from connector.datadog.stats import RequestDone


def samples(metrics: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
        if s.name == name
    }


def test_datadog_429s_are_counted_apart_from_other_4xx() -> None:
    metrics, datadog = daemon_metrics()
    for status in (200, 429, 429, 404, None):
        datadog(RequestDone(group="users", method="GET", status=status, seconds=0.01, attempt=1))
    assert samples(metrics, "baton_datadog_api_requests_total") == {
        (("group", "users"), ("status", "2xx")): 1,
        (("group", "users"), ("status", "429")): 2,
        (("group", "users"), ("status", "4xx")): 1,
        (("group", "users"), ("status", "error")): 1,
    }


def test_a_sync_sets_resources_and_grants_by_resource_type() -> None:
    metrics, _ = daemon_metrics()
    stats: dict[str, object] = {
        "resources_by_resource_type": {"user": 30, "role": 3, "team": 5},
        "grants_by_resource_type": {"role": 31, "team": 12},
        "grants": 43,
    }
    metrics.sync_succeeded(SyncResult("sync-1", "full", False, stats, [], 2.5), uploaded_bytes=1000)
    assert samples(metrics, "baton_datadog_grants_synced") == {
        (("resource_type", "role"),): 31,
        (("resource_type", "team"),): 12,
    }
    assert samples(metrics, "baton_datadog_resources_synced")[(("resource_type", "user"),)] == 30
    assert samples(metrics, "baton_datadog_upload_bytes_total") == {(): 1000}
    assert samples(metrics, "baton_datadog_last_successful_sync_timestamp_seconds")[()] > 0


def test_failed_tasks_are_outcomes_of_one_counter() -> None:
    metrics, _ = daemon_metrics()
    metrics.task_received("grant")
    metrics.task_finished("grant", "failed_final", 0.2)
    assert samples(metrics, "baton_datadog_tasks_finished_total") == {
        (("outcome", "failed_final"), ("type", "grant")): 1
    }
    assert samples(metrics, "baton_datadog_tasks_in_flight") == {(): 0}


def test_an_answer_over_the_message_limit_is_counted_apart_from_a_servers_resource_exhausted() -> None:
    metrics, _ = daemon_metrics()
    metrics.c1_call(RpcResult("GetTask", "RESOURCE_EXHAUSTED", 0.1, too_large=True))
    metrics.c1_call(RpcResult("GetTask", "RESOURCE_EXHAUSTED", 0.1))  # the server's own (a rate limit)
    assert samples(metrics, "baton_datadog_conductorone_responses_too_large_total") == {(("method", "GetTask"),): 1}
    assert samples(metrics, "baton_datadog_conductorone_rpc_errors_total") == {
        (("code", "RESOURCE_EXHAUSTED"), ("method", "GetTask")): 2
    }
