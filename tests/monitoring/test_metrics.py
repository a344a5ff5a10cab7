"""/metrics of a running daemon after a full sync, as Prometheus' linter and an SRE see it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.monitoring import tools
from tests.monitoring.conftest import Live


def test_promtool_check_metrics_is_clean_on_a_live_scrape(live: Live) -> None:
    result = tools.promtool("check", "metrics", stdin=live.scrape())
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).strip() == "", "promtool's linter has no complaint"


def test_names_follow_prometheus_conventions(live: Live) -> None:
    families = {f.name: f for f in text_string_to_metric_families(live.scrape())}
    samples = [s for f in families.values() for s in f.samples]
    assert not [s.name for s in samples if s.name.endswith("_created")], "no _created series"
    assert not [n for n in families if n.startswith("baton_datadog_datadog_")], "no stutter"
    assert not [n for n in families if n.startswith("baton_datadog_c1_")], "ConductorOne spelled one way"
    for standard in ("process_resident_memory_bytes", "process_cpu_seconds", "process_open_fds", "python_info"):
        assert standard in families, standard
    counters = [s.name for f in families.values() if f.type == "counter" for s in f.samples]
    assert counters
    assert all(name.endswith("_total") for name in counters)


def test_a_full_sync_shows_resources_and_grants_by_resource_type(live: Live) -> None:
    families = {f.name: f for f in text_string_to_metric_families(live.scrape())}
    resources = {s.labels["resource_type"]: s.value for s in families["baton_datadog_resources_synced"].samples}
    grants = {s.labels["resource_type"]: s.value for s in families["baton_datadog_grants_synced"].samples}
    assert set(resources) == {"role", "team", "user"}
    assert resources["user"] == len(live.stack.dd.org.users)
    # Every synced type has a grants series, 0 for one without grants (users hold none here), so a count that falls
    # to 0 shows as 0 and not as the last sync's.
    assert set(grants) == set(resources)
    assert grants["user"] == 0
    assert grants["role"] > 0
    assert grants["team"] > 0
    (last_sync,) = families["baton_datadog_last_successful_sync_timestamp_seconds"].samples
    assert last_sync.value > 0
    requests = families["baton_datadog_api_requests"].samples
    assert {s.labels["status"] for s in requests} == {"2xx"}


def test_no_secret_on_metrics(live: Live) -> None:
    assert live.stack.leaks(live.scrape()) == []
