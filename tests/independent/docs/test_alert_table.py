"""Alerts: the table of docs/deployment.md gives each alert of the chart's PrometheusRule, and with it the time the
condition must hold before it fires (`for`), as the template sets it (the table gave it for BatonDatadogDown only,
so BatonDatadogRateLimited's 15 minutes, on top of its 30-minute window, were nowhere to be read); the chart
README's table lists the same alerts."""

from __future__ import annotations

import re

from tests.independent.docs.operator_docs import REPO, text

TEMPLATE = REPO / "charts" / "baton-datadog" / "templates" / "prometheusrule.yaml"


def _template_for() -> dict[str, str]:
    """Each alert's `for`, as the template writes it (`10m`, `{{ int64 $r.c1UnreachableMinutes }}m`), or ""."""
    found: dict[str, str] = {}
    for block in re.split(r"\n\s*- alert: ", TEMPLATE.read_text())[1:]:
        name = block.split("\n", 1)[0].strip()
        duration = re.search(r"\n\s*for: (.+)", block.split("\n        - ", 1)[0])
        found[name] = "" if duration is None else duration.group(1).strip()
    return found


def _spoken(duration: str) -> str:
    """`{{ int64 $r.c1UnreachableMinutes }}m` as the table says it: `c1UnreachableMinutes`."""
    value = re.search(r"\$r\.(\w+)", duration)
    return value.group(1) if value else duration


def test_the_alert_table_gives_each_alert_and_how_long_it_must_hold() -> None:
    template = _template_for()
    assert "BatonDatadogRateLimited" in template
    rows = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| (BatonDatadog\w+) \| (.*) \|$", text("docs/deployment.md"), flags=re.M)
    }
    assert set(rows) == set(template)
    wrong = {}
    for name, duration in template.items():
        said = re.findall(r"\bfor `?([\w]+)`?", rows[name])
        if duration and said != [_spoken(duration)]:
            wrong[name] = (duration, said)
        if not duration and said:
            wrong[name] = ("no for", said)
    assert wrong == {}


def test_the_chart_readme_lists_every_alert() -> None:
    listed = set(re.findall(r"^\| `(BatonDatadog\w+)` \|", text("charts/baton-datadog/README.md"), flags=re.M))
    assert listed == set(_template_for())
