"""The metrics hooks: what each event of the other layers becomes on /metrics."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from connector.baton.c1.client import RpcResult
from connector.baton.errors import Code
from connector.baton.runtime.metrics import FAILED_OUTCOMES, Metrics
from connector.baton.sync.syncer import SyncResult
from connector.baton.tasks.outcome import Failure, Outcome
from connector.daemon.metrics import daemon_metrics
from connector.datadog.stats import RateLimitWait, RequestDone


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


def test_each_request_counts_in_its_own_groups_and_status_classes_series_however_they_interleave() -> None:
    """The hook keeps each group and status class's series once looked up: requests of two groups, each status
    class seen again after others, land each in its own counter and its group's latency histogram."""
    metrics, datadog = daemon_metrics()
    events = [("users", 200, 0.5), ("roles", 200, 1.5), ("users", 503, 0.25), ("users", 200, 0.5), ("roles", 201, 2.0)]
    for group, status, seconds in events * 3:
        datadog(RequestDone(group=group, method="GET", status=status, seconds=seconds, attempt=1))
    assert samples(metrics, "baton_datadog_api_requests_total") == {
        (("group", "users"), ("status", "2xx")): 6,
        (("group", "users"), ("status", "5xx")): 3,
        (("group", "roles"), ("status", "2xx")): 6,
    }
    assert samples(metrics, "baton_datadog_api_request_duration_seconds_count") == {
        (("group", "users"),): 9,
        (("group", "roles"),): 6,
    }
    assert samples(metrics, "baton_datadog_api_request_duration_seconds_sum") == {
        (("group", "users"),): 3.75,
        (("group", "roles"),): 10.5,
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
        (("resource_type", "user"),): 0,
    }
    assert samples(metrics, "baton_datadog_resources_synced")[(("resource_type", "user"),)] == 30
    assert samples(metrics, "baton_datadog_upload_bytes_total") == {(): 1000}
    assert samples(metrics, "baton_datadog_last_successful_sync_timestamp_seconds")[()] > 0


def test_failed_tasks_are_outcomes_of_one_counter() -> None:
    metrics, _ = daemon_metrics()
    metrics.task_received("grant")
    metrics.task_finished("grant", "failed_final", 0.2)
    assert {k: v for k, v in samples(metrics, "baton_datadog_tasks_finished_total").items() if v} == {
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


def full_sync(resources: dict[str, int], grants: dict[str, int], seconds: float = 2.5) -> SyncResult:
    # As the store writes stats: Go's encoding/json, zero values and empty maps omitted.
    stats: dict[str, object] = {"resources_by_resource_type": resources, "grants_by_resource_type": grants}
    return SyncResult("sync-1", "full", False, {k: v for k, v in stats.items() if v}, [], seconds)


def test_counts_are_those_of_the_last_sync_even_when_they_fell_to_zero() -> None:
    # The store leaves a type without grants out of grants_by_resource_type (and the whole map when no type has
    # any); the gauges kept the previous sync's counts: every team membership removed still showed 12.
    metrics, _ = daemon_metrics()
    metrics.sync_succeeded(full_sync({"user": 30, "role": 3, "team": 5}, {"role": 31, "team": 12}))
    metrics.sync_succeeded(full_sync({"user": 30, "role": 3, "team": 5}, {"role": 31}))
    assert samples(metrics, "baton_datadog_grants_synced")[(("resource_type", "team"),)] == 0
    metrics.sync_succeeded(full_sync({"user": 30, "role": 3, "team": 0}, {}))
    assert set(samples(metrics, "baton_datadog_grants_synced").values()) == {0}
    assert samples(metrics, "baton_datadog_resources_synced")[(("resource_type", "team"),)] == 0
    # A type no longer synced at all (a sync of some types only) is not in the last sync: its series goes.
    metrics.sync_succeeded(full_sync({"user": 31}, {}))
    assert samples(metrics, "baton_datadog_resources_synced") == {(("resource_type", "user"),): 31}
    assert samples(metrics, "baton_datadog_grants_synced") == {(("resource_type", "user"),): 0}


def test_a_targeted_sync_is_not_a_full_sync() -> None:
    # ConductorOne sends a targeted sync (a few resources, a partial sync) after a grant. It stamped the last
    # successful sync, so BatonDatadogSyncStale stayed quiet while every full sync failed, and it replaced the
    # org's counts by the few resources it read.
    metrics, _ = daemon_metrics()
    metrics.sync_succeeded(full_sync({"user": 30, "role": 3}, {"role": 31}, seconds=60.0))
    before = samples(metrics, "baton_datadog_last_successful_sync_timestamp_seconds")
    partial = SyncResult("sync-2", "partial", False, {"resources_by_resource_type": {"user": 1}}, [], 0.3)
    metrics.sync_succeeded(partial, uploaded_bytes=500)
    assert samples(metrics, "baton_datadog_last_successful_sync_timestamp_seconds") == before
    assert samples(metrics, "baton_datadog_resources_synced") == {
        (("resource_type", "role"),): 3,
        (("resource_type", "user"),): 30,
    }
    assert samples(metrics, "baton_datadog_sync_duration_seconds_count") == {(): 1}
    assert samples(metrics, "baton_datadog_upload_bytes_total") == {(): 500}


DEPLOYMENT_DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"


def test_the_metrics_table_of_the_deployment_doc_names_each_series_with_its_labels() -> None:
    """The table an SRE writes queries from: it gave `..._rate_limit_wait_seconds_total` a `cause` label it has not."""
    metrics, _ = daemon_metrics()
    exported = {
        collector._name + ("_total" if collector._type == "counter" else ""): set(collector._labelnames)
        for collector in metrics.registry._collector_to_names
        if isinstance(collector, MetricWrapperBase) and collector._name.startswith("baton_datadog_")
    }
    documented: dict[str, set[str]] = {}
    for line in DEPLOYMENT_DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| `baton_datadog_") or len(cells) < 3:
            continue
        labels = set(re.findall(r"[a-z_]+", re.sub(r"\([^)]*\)", "", cells[1])))
        for name in re.findall(r"`(baton_datadog_[a-z_]+)`", cells[0]):
            documented[name] = labels
    assert documented == exported


def test_task_failures_are_exported_at_zero_before_the_first_one() -> None:
    """Prometheus sees no increase in a counter series that appears at 1: the first failed revoke of a process's
    life never counted toward BatonDatadogTaskFailures (with taskFailuresThreshold 0, no lone failure ever fired it).
    Every failure outcome of the tasks that change or report access is on the first scrape, at 0."""
    metrics, _ = daemon_metrics()
    first = samples(metrics, "baton_datadog_tasks_finished_total")
    for task_type in ("grant", "revoke", "sync_full", "issue_credential", "create_account", "action_invoke"):
        for outcome in ("failed_final", "failed_retryable", "not_run", "unreported"):
            assert first[(("outcome", outcome), ("type", task_type))] == 0, (task_type, outcome)
    assert not [k for k in first if ("outcome", "success") in k], "only failures are pre-set"
    labels = {Outcome(failure=Failure(Code.UNKNOWN, "x", final)).label for final in (True, False)}
    assert labels | {Outcome().label} <= {*FAILED_OUTCOMES, "success"}, "every outcome a task can end with is one"
    metrics.task_received("revoke")
    metrics.task_finished("revoke", "failed_final", 0.2)
    assert (
        samples(metrics, "baton_datadog_tasks_finished_total")[(("outcome", "failed_final"), ("type", "revoke"))] == 1
    )


def test_rate_limit_waits_are_exported_at_zero_before_the_first_one() -> None:
    """BatonDatadogRateLimited reads increase(): the waits a cause's series first appears with did not count."""
    metrics, datadog = daemon_metrics()
    assert samples(metrics, "baton_datadog_api_rate_limit_waits_total") == {
        (("cause", "429"),): 0,
        (("cause", "pacing"),): 0,
    }
    datadog(RateLimitWait(group="users", limit_name="users", seconds=1.0, cause="429"))
    assert samples(metrics, "baton_datadog_api_rate_limit_waits_total")[(("cause", "429"),)] == 1
