"""The Grafana dashboard and the alerts only ask for what the daemon exports: every PromQL expression parses with
promtool, and every metric it names is in a real scrape of the daemon."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.monitoring import rules, tools
from tests.monitoring.conftest import Live

# Series Prometheus itself adds to every target.
PROMETHEUS_SERIES = frozenset({"up"})


SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def exported(scrape: str) -> set[str]:
    """Every series name the scrape declares: its samples, and the series of each family it announces with
    `# TYPE` (a labelled counter that has not counted yet, e.g. RPC errors on a healthy day, has no sample)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(scrape):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def all_expressions() -> list[tuple[str, str]]:
    alerts = [(f"alert {r['alert']}", r["expr"]) for r in rules.alert_rules()]
    return alerts + rules.dashboard_expressions()


def test_every_expression_parses(tmp_path: Path) -> None:
    expressions = all_expressions()
    recording = [{"record": f"check:expr_{i}", "expr": expr} for i, (_, expr) in enumerate(expressions)]
    path = tmp_path / "expressions.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-and-alerts", "rules": recording}]}))
    result = tools.promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_metric_named_is_exported_by_the_daemon(live: Live) -> None:
    names = exported(live.scrape()) | PROMETHEUS_SERIES
    missing = {
        f"{where}: {metric}"
        for where, expr in all_expressions()
        for metric in rules.metric_names(expr)
        if metric not in names
    }
    assert not missing, sorted(missing)


def test_the_dashboard_covers_what_an_operator_asks() -> None:
    dashboard = json.loads(rules.DASHBOARD.read_text())
    text = json.dumps(dashboard)
    for metric in (
        "baton_datadog_last_successful_sync_timestamp_seconds",
        "baton_datadog_sync_duration_seconds",
        "baton_datadog_resources_synced",
        "baton_datadog_grants_synced",
        "baton_datadog_api_requests_total",
        'status=\\"429\\"',
        "baton_datadog_api_request_duration_seconds_bucket",
        "baton_datadog_tasks_finished_total",
        "baton_datadog_task_duration_seconds_bucket",
        "baton_datadog_conductorone_rpc_errors_total",
        "baton_datadog_conductorone_token_fetches_total",
    ):
        assert metric in text, metric
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"]), "no hard-coded datasource"


def test_metric_name_extraction_reads_names_not_labels_or_functions() -> None:
    expr = 'sum by (le, type) (rate(a_bucket{job=~"x", le="0.5"}[5m])) / on (job) b_total offset 5m > 0.5'
    assert rules.metric_names(expr) == {"a_bucket", "b_total"}


def test_the_time_since_the_last_sync_is_still_shown_after_a_restart(tmp_path: Path) -> None:
    """A restarted pod's gauge starts at 0, which the panel leaves out, and the old pod's series goes stale 5 minutes
    after it is gone: the panel was empty ("No data") after every restart until the next sync succeeded, the moment
    an operator looks to see how old ConductorOne's data is. Pod a synced at 1 m and was replaced at 1 h by pod b,
    which has not synced since; at 1 h 30 m the last sync is 89 minutes old."""
    (expr,) = [e for title, e in rules.dashboard_expressions() if title == "Time since the last successful sync"]
    ts = "baton_datadog_last_successful_sync_timestamp_seconds"
    job = '{namespace="%s", job="%s"' % (rules.SELECTOR["namespace"], rules.SELECTOR["job"])  # noqa: UP031
    inputs = [
        {"series": f'{ts}{job}, pod="a"}}', "values": "60x60"},
        {"series": f'{ts}{job}, pod="b"}}', "values": "_x60 0x60"},
    ]
    expected = [{"labels": "{}", "value": 90 * 60 - 60}]
    test = {
        "interval": "1m",
        "input_series": inputs,
        "promql_expr_test": [{"expr": expr, "eval_time": "90m", "exp_samples": expected}],
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": []}))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": [test]}))
    result = tools.promtool("test", "rules", tmp_path / "tests.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_pods_ready_shows_zero_when_no_pod_is_up(tmp_path: Path) -> None:
    """With every pod down (crash-looping, scaled to 0), `sum` and `count` over no series are empty: the panel said
    "No data", which reads as a broken dashboard rather than as the outage it is."""
    exprs = [e for title, e in rules.dashboard_expressions() if title.startswith("Pods ready")]
    assert len(exprs) == 2, "ready and scraped"
    up = 'up{namespace="%s", job="%s"}' % (rules.SELECTOR["namespace"], rules.SELECTOR["job"])  # noqa: UP031
    test = {
        "interval": "1m",
        "input_series": [{"series": up, "values": "0x10"}],  # scraped and failing: no daemon answers
        "promql_expr_test": [
            {"expr": expr, "eval_time": "5m", "exp_samples": [{"labels": "{}", "value": 0}]} for expr in exprs
        ],
    }
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": []}))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": [test]}))
    result = tools.promtool("test", "rules", tmp_path / "tests.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def series_unit(panel: dict[str, Any], ref_id: str) -> str | None:
    """The unit Grafana shows a target's series in: an override by its refId, else the panel's default."""
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        if override["matcher"] == {"id": "byFrameRefID", "options": ref_id}:
            unit = next((p["value"] for p in override["properties"] if p["id"] == "unit"), unit)
    return cast("str | None", unit)


def test_every_series_is_shown_in_the_unit_it_is_measured_in() -> None:
    """Bytes as bytes, seconds as seconds. Memory was shown with CPU in one unit ("short"): 1.3e8 beside 0.02, and
    no axis an operator could read a pod's memory from."""
    dashboard = json.loads(rules.DASHBOARD.read_text())
    wrong = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            names = rules.metric_names(rules.substitute(target["expr"]))
            unit = series_unit(panel, target["refId"])
            if names and all(n.endswith("_bytes") for n in names) and unit not in ("bytes", "decbytes"):
                wrong.append(f"{panel['title']} {target['refId']}: bytes shown as {unit}")
            timed = [n for n in names if "_seconds" in n and not n.endswith("_total")]
            if timed and unit != "s":
                wrong.append(f"{panel['title']} {target['refId']}: seconds shown as {unit}")
    assert not wrong, wrong
