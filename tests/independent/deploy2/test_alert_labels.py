"""The alerts and the dashboard select and group by labels the daemon's series really carry, with values the code
really writes (issue 9 §4: "checks that every metric they name is exported"; tests/monitoring checks the names,
this checks the labels). A rule matching `outcome="failure"` where the code writes `failed_final`, or grouping
`by (task_type)` where the label is `type`, parses, passes `promtool test rules` with series written to match it,
and never fires in a cluster.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from connector.baton.runtime.metrics import FAILED_OUTCOMES
from connector.baton.tasks.processor import PROVISIONING_TASKS
from connector.daemon.metrics import daemon_metrics
from connector.datadog.stats import RATE_LIMIT_CAUSES
from tests.deploy import tooling
from tests.monitoring import rules

tooling.need("helm_python")

# Labels Prometheus attaches to every series of a target (the ServiceMonitor's and the annotations' scrape).
TARGET_LABELS = frozenset({"namespace", "job", "instance", "pod", "service", "endpoint", "container"})
# What the code writes for each label a rule or panel matches on a value: from the code, never a copy.
LABEL_VALUES: dict[str, frozenset[str]] = {
    "outcome": frozenset({"success", *FAILED_OUTCOMES}),
    "status": frozenset({"2xx", "3xx", "4xx", "5xx", "429", "error"}),
    "cause": frozenset(RATE_LIMIT_CAUSES),
    "type": frozenset({*PROVISIONING_TASKS, "sync_full"}),
}
SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


def label_names() -> dict[str, frozenset[str]]:
    """Series name -> the label names the daemon gives it (histogram parts and `le` included)."""
    registry = daemon_metrics()[0].registry
    found: dict[str, frozenset[str]] = {}
    for collector in list(registry._collector_to_names):  # labelled families with no child yet
        names: tuple[str, ...] = getattr(collector, "_labelnames", ())
        kind = getattr(collector, "_type", None)
        base = getattr(collector, "_name", None)
        if base is None:
            for family in collector.collect():
                for sample in family.samples:
                    found[sample.name] = found.get(sample.name, frozenset()) | frozenset(sample.labels)
            continue
        if kind == "counter":
            found[base + "_total"] = frozenset(names)
        elif kind == "histogram":
            for part in ("_sum", "_count"):
                found[base + part] = frozenset(names)
            found[base + "_bucket"] = frozenset(names) | {"le"}
        else:
            found[base] = frozenset(names)
    found["up"] = frozenset()
    return found


def expressions() -> list[tuple[str, str]]:
    return [(f"alert {r['alert']}", r["expr"]) for r in rules.alert_rules()] + rules.dashboard_expressions()


def label_problems(where: str, expr: str, known: dict[str, frozenset[str]]) -> list[str]:
    problems = []
    metrics = rules.metric_names(expr)
    carried = set(TARGET_LABELS)
    for metric in metrics:
        carried |= known.get(metric, frozenset())
    for metric, body in SELECTOR.findall(expr):
        for label, op, value in MATCHER.findall(body):
            if label not in TARGET_LABELS | known.get(metric, frozenset()):
                problems.append(f"{where}: {metric} has no label {label!r}")
            elif label in LABEL_VALUES and op in ("=", "=~"):
                written = LABEL_VALUES[label]
                wanted = value.split("|") if op == "=~" else [value]
                problems.extend(
                    f"{where}: {metric}{{{label}={v!r}}}: the code never writes that value"
                    for v in wanted
                    if v not in written
                )
    for group in GROUPING.findall(expr):
        for label in filter(None, (g.strip() for g in group.split(","))):
            if label not in carried:
                problems.append(f"{where}: grouped by {label!r}, which none of {sorted(metrics)} carries")
    return problems


def test_every_label_an_alert_or_panel_uses_is_one_the_daemon_writes() -> None:
    known = label_names()
    problems = [p for where, expr in expressions() for p in label_problems(where, expr, known)]
    assert problems == []


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ('sum by (task_type) (baton_datadog_tasks_finished_total{outcome!="success"})', "grouped by 'task_type'"),
        ('baton_datadog_tasks_finished_total{outcome="failure"}', "never writes that value"),
        ('baton_datadog_tasks_finished_total{type=~"grant|revoke|provision"}', "'provision'"),
        ('baton_datadog_api_requests_total{status="503"}', "never writes that value"),
        ('baton_datadog_ready{outcome="success"}', "has no label 'outcome'"),
    ],
)
def test_the_label_check_bites(expr: str, problem: str) -> None:
    problems: list[Any] = label_problems("mutated", expr, label_names())
    assert any(problem in p for p in problems), problems
