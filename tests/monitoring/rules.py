"""The chart's alerts and dashboard as files promtool reads: rules rendered from the chart, PromQL gathered from the
dashboard JSON with Grafana's variables replaced by what a query would see."""

from __future__ import annotations

import json
import re
from typing import Any

from scripts import chart_tools
from scripts.chart_tools import CHART
from tests.deploy import tooling

DASHBOARD = CHART / "dashboards" / "baton-datadog.json"
RUNBOOK = chart_tools.ROOT / "docs" / "runbook.md"
# The "everything" value set's release: its alerts select namespace="security", job="datadog-acme-baton-datadog".
SELECTOR = {"namespace": chart_tools.NAMESPACE, "job": f"{chart_tools.RELEASE}-baton-datadog"}

# Grafana's variables, as the dashboard's queries see them.
GRAFANA_VARIABLES = {
    "$__rate_interval": "2m",
    "$__interval": "1m",
    "$__range": "1h",
    "$namespace": SELECTOR["namespace"],
    "$job": SELECTOR["job"],
}


def prometheus_rule() -> dict[str, Any]:
    tooling.need("helm_python")
    docs = chart_tools.manifests(chart_tools.render_set(chart_tools.value_set("everything")))
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    return rule


def alert_rules() -> list[dict[str, Any]]:
    return [r for group in prometheus_rule()["spec"]["groups"] for r in group["rules"]]


def rule_groups(*, annotations: bool = True) -> dict[str, Any]:
    """A Prometheus rules file of the chart's alerts (without annotations for `promtool test rules`, which would
    compare their rendered text too; `promtool check rules` checks their templates)."""
    groups = json.loads(json.dumps(prometheus_rule()["spec"]["groups"]))
    if not annotations:
        for group in groups:
            for rule in group["rules"]:
                rule.pop("annotations", None)
    return {"groups": groups}


def dashboard_expressions() -> list[tuple[str, str]]:
    """(panel title, PromQL with Grafana's variables substituted) for every target and templating query."""
    dashboard = json.loads(DASHBOARD.read_text())
    found = [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            match = re.fullmatch(r"label_values\((.*), \w+\)", query["query"])
            if match:
                found.append((f"variable {variable['name']}", match[1]))
    return [(title, substitute(expr)) for title, expr in found]


def substitute(expr: str) -> str:
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    assert "$" not in expr, f"an unknown Grafana variable in {expr}"
    return expr


_FUNCTIONS_AND_KEYWORDS = frozenset(
    [
        "sum",
        "max",
        "min",
        "avg",
        "count",
        "rate",
        "increase",
        "irate",
        "time",
        "histogram_quantile",
        "absent",
        "by",
        "without",
        "on",
        "ignoring",
        "or",
        "and",
        "unless",
        "bool",
        "group_left",
        "group_right",
        "offset",
        "label_values",
        "humanize",
        "humanizeDuration",
        "le",
    ]
)


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads: identifiers that are not functions, keywords, label names or strings."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_matchers = re.sub(r"\{[^}]*\}", "{}", without_strings)
    without_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", without_matchers)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_groupings)
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", without_ranges))
    return {n for n in names if n not in _FUNCTIONS_AND_KEYWORDS and not re.fullmatch(r"\d.*|e\d+", n)}
