"""The chart's alerts, unit-tested with Prometheus' own `promtool test rules`: each alert has a series that fires
it and one that must not; each links to its section of docs/runbook.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import tooling
from tests.monitoring import rules, tools

L = rules.SELECTOR
JOB = '{namespace="%s", job="%s"' % (L["namespace"], L["job"])  # noqa: UP031  # an open PromQL matcher


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    extra = "".join(f', {k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{JOB}{extra}}}", "values": values}


def case(eval_time: str, alert: str, inputs: list[dict[str, str]], fires: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": inputs,
        "alert_rule_test": [
            {"eval_time": eval_time, "alertname": alert, "exp_alerts": [{"exp_labels": labels} for labels in fires]}
        ],
    }


def fired(severity: str, **labels: str) -> dict[str, str]:
    return {"severity": severity, **L, **labels}


TS = "baton_datadog_last_successful_sync_timestamp_seconds"
# 40 minutes up without a successful sync, then a failed scrape (Prometheus' staleness marker) and 4 minutes down.
CRASH_LOOP = " 0x40 stale _x4"
CASES = [
    # Not scraped for 10 minutes, or no target at all / one of two pods scraped.
    case("20m", "BatonDatadogDown", [series("up", "0x30")], [fired("critical")]),
    case("20m", "BatonDatadogDown", [series("process_open_fds", "1x30")], [fired("critical")]),
    case("20m", "BatonDatadogDown", [series("up", "1x30", instance="a"), series("up", "0x30", instance="b")], []),
    # A crash-looping pod answering one scrape in ten: each answer started the 10 minutes over, so it never fired. A
    # healthy pod missing one scrape in ten stays quiet.
    case("2h", "BatonDatadogDown", [series("up", "0x9 1 " * 12)], [fired("critical")]),
    case("2h", "BatonDatadogDown", [series("up", "1x9 0 " * 12)], []),
    # Down for an hour, then answering again: quiet once most scrapes of the last 15 minutes succeeded.
    case("1h8m", "BatonDatadogDown", [series("up", "0x60 1x30")], []),
    # The last sync finished at t=1 s and nothing since: stale after 6 h (+10 m). A sync every minute: fresh.
    case("7h", "BatonDatadogSyncStale", [series(TS, "1+0x480")], [fired("warning")]),
    case("7h", "BatonDatadogSyncStale", [series(TS, "0+60x480")], []),
    # Never synced for 6 h / synced once after ten minutes.
    case("7h", "BatonDatadogNeverSynced", [series(TS, "0x480")], [fired("warning")]),
    case("7h", "BatonDatadogNeverSynced", [series(TS, "0x10 600+0x470")], []),
    # A restart forgets the last sync's time (the gauge starts at 0), and a pod killed by every sync (OOMKilled, a
    # crash loop) leaves gaps in its series. Neither may hide a sync that stopped succeeding: the last sync at 1 m, a
    # new pod from 1 h on (stale at 6 h 1 m)...
    case(
        "6h30m",
        "BatonDatadogSyncStale",
        [series(TS, "60x60", pod="a"), series(TS, "_x60 0x400", pod="b")],
        [fired("warning")],
    ),
    # ... the same pod restarting every 45 minutes after that sync: its gauge back at 0, a failed scrape each time ...
    case("6h30m", "BatonDatadogSyncStale", [series(TS, "60x40 stale _x4" + CRASH_LOOP * 10)], [fired("warning")]),
    # ... and one that never got a sync through before its next restart: NeverSynced's 6 h are not reset by the gaps.
    case("7h", "BatonDatadogNeverSynced", [series(TS, CRASH_LOOP.strip() + CRASH_LOOP * 10)], [fired("warning")]),
    # Synced at 1 m, then restarted at 1 h and never synced again: once the old series is far behind (8 h), the
    # never-synced alert has taken over.
    case(
        "8h",
        "BatonDatadogNeverSynced",
        [series(TS, "60x60", pod="a"), series(TS, "_x60 0x480", pod="b")],
        [fired("warning")],
    ),
    # A grant failing every minute / grants succeeding every minute.
    case(
        "40m",
        "BatonDatadogTaskFailures",
        [series("baton_datadog_tasks_finished_total", "0+1x60", type="grant", outcome="failed_final")],
        [fired("warning", type="grant")],
    ),
    case(
        "40m",
        "BatonDatadogTaskFailures",
        [series("baton_datadog_tasks_finished_total", "0+1x60", type="grant", outcome="success")],
        [],
    ),
    # Six revokes failing at once, the first failures of the process: they count because the daemon exports the series
    # at 0 from its start (tests/daemon/test_metrics.py); a series that first appears at 6 would show no increase.
    case(
        "40m",
        "BatonDatadogTaskFailures",
        [series("baton_datadog_tasks_finished_total", "0x10 6x50", type="revoke", outcome="failed_final")],
        [fired("warning", type="revoke")],
    ),
    # One revoke whose report ConductorOne never received: fires at once, whatever taskFailuresThreshold says, and
    # stays firing for the hour. A sync or a hello unreported is not a change of access (TaskFailures covers them),
    # and a revoke reported as failed is not unreported.
    case(
        "12m",
        "BatonDatadogAccessChangeUnreported",
        [series("baton_datadog_tasks_finished_total", "0x10 1x60", type="revoke", outcome="unreported")],
        [fired("critical", type="revoke")],
    ),
    case(
        "65m",
        "BatonDatadogAccessChangeUnreported",
        [series("baton_datadog_tasks_finished_total", "0x10 1x60", type="issue_credential", outcome="unreported")],
        [fired("critical", type="issue_credential")],
    ),
    # A restart: the container's counter back at 0 after one unreported revoke (a failed scrape between) still fires
    # for the rest of the hour, the reset not read as a decrease; a new pod's series (another pod label) starting at
    # 0 fires on its first one; a restart with nothing unreported (0, a gap, 0) fires never.
    case(
        "30m",
        "BatonDatadogAccessChangeUnreported",
        [series("baton_datadog_tasks_finished_total", "0x10 1x5 stale 0x40", type="revoke", outcome="unreported")],
        [fired("critical", type="revoke")],
    ),
    case(
        "30m",
        "BatonDatadogAccessChangeUnreported",
        [
            series("baton_datadog_tasks_finished_total", "0x10 stale", type="grant", outcome="unreported", pod="a"),
            series("baton_datadog_tasks_finished_total", "_x12 0x5 1x40", type="grant", outcome="unreported", pod="b"),
        ],
        [fired("critical", type="grant")],
    ),
    case(
        "30m",
        "BatonDatadogAccessChangeUnreported",
        [series("baton_datadog_tasks_finished_total", "0x10 stale 0x40", type="revoke", outcome="unreported")],
        [],
    ),
    case(
        "40m",
        "BatonDatadogAccessChangeUnreported",
        [
            series("baton_datadog_tasks_finished_total", "0x10 1x60", type="sync_full", outcome="unreported"),
            series("baton_datadog_tasks_finished_total", "0x10 1x60", type="hello", outcome="unreported"),
            series("baton_datadog_tasks_finished_total", "0x10 5x60", type="revoke", outcome="failed_final"),
        ],
        [],
    ),
    # Not ready for 30 minutes; or ready, but 9 of 10 RPCs failing; vs ready with 1 in 10 failing.
    case("30m", "BatonDatadogConductorOneUnreachable", [series("baton_datadog_ready", "0x60")], [fired("critical")]),
    # Not ready for 2 hours, with a failed scrape (Prometheus' staleness marker) every 10 minutes: it fired never.
    case(
        "2h",
        "BatonDatadogConductorOneUnreachable",
        [series("baton_datadog_ready", "0x9 stale " * 14 + "0x9")],
        [fired("critical")],
    ),
    # Ready again after 20 minutes not ready: quiet at once, whatever an earlier sample said.
    case("25m", "BatonDatadogConductorOneUnreachable", [series("baton_datadog_ready", "0x20 1x40")], []),
    case(
        "30m",
        "BatonDatadogConductorOneUnreachable",
        [
            series("baton_datadog_ready", "1x60"),
            series("baton_datadog_conductorone_rpcs_total", "0+10x60", method="GetTask", code="UNAVAILABLE"),
            series("baton_datadog_conductorone_rpc_errors_total", "0+9x60", method="GetTask", code="UNAVAILABLE"),
        ],
        [fired("critical")],
    ),
    case(
        "30m",
        "BatonDatadogConductorOneUnreachable",
        [
            series("baton_datadog_ready", "1x60"),
            series("baton_datadog_conductorone_rpcs_total", "0+10x60", method="GetTask", code="OK"),
            series("baton_datadog_conductorone_rpc_errors_total", "0+1x60", method="GetTask", code="UNAVAILABLE"),
        ],
        [],
    ),
    # 10 rate-limit waits a minute (300 in 30 m) / one a minute.
    case(
        "50m",
        "BatonDatadogRateLimited",
        [series("baton_datadog_api_rate_limit_waits_total", "0+10x60", cause="429")],
        [fired("info")],
    ),
    case(
        "50m",
        "BatonDatadogRateLimited",
        [series("baton_datadog_api_rate_limit_waits_total", "0+1x60", cause="429")],
        [],
    ),
]


def test_the_unreported_change_alert_watches_every_task_that_changes_access() -> None:
    """The alert names the types in its expression; a task type the daemon adds to PROVISIONING_TASKS must not go
    unwatched."""
    from connector.baton.tasks.processor import PROVISIONING_TASKS

    (rule,) = [r for r in rules.alert_rules() if r["alert"] == "BatonDatadogAccessChangeUnreported"]
    (types,) = re.findall(r'type=~"([^"]*)"', rule["expr"])
    assert sorted(types.split("|")) == sorted(PROVISIONING_TASKS)


def _filled_task(kind: str) -> Any:
    """A task of type `kind` with every part its log fields come from set (ids ConductorOne would send)."""
    from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2

    task = baton_pb2.Task(id="2QkLhTJ3mZ8m4r6k9sXc1aTbEfG")
    if kind == "grant":
        task.grant.entitlement.id = "role:r1:member"
        task.grant.principal.id.resource_type, task.grant.principal.id.resource = "user", "u1"
    elif kind == "revoke":
        task.revoke.grant.entitlement.id = "role:r1:member"
        task.revoke.grant.principal.id.resource_type, task.revoke.grant.principal.id.resource = "user", "u1"
    elif kind == "delete_resource":
        task.delete_resource.resource_id.resource_type, task.delete_resource.resource_id.resource = "api-key", "k1"
    elif kind == "action_invoke":
        task.action_invoke.name = "disable_user"
        task.action_invoke.args.fields["user_id"].struct_value.update({"resource_type_id": "user", "resource_id": "u1"})
    elif kind == "issue_credential":
        issue = task.issue_credential
        issue.identity_id.resource_type, issue.identity_id.resource = "user", "sa1"
        issue.credential_options.secret_resource_type_id = "service-account-access-token"
    return task


def test_the_unreported_change_runbook_names_the_fields_each_task_type_logs() -> None:
    """The runbook tells the operator how to find what an unreported task was about from its log line. It named
    `resource`, `action` and `action_target` for every task but a grant or revoke: an issued credential's lines carry
    `identity` and `secret_type`, which it never named, so the one task whose unreported success leaves a live secret
    nobody holds was the one it gave no way to find."""
    from connector.baton.tasks.processor import PROVISIONING_TASKS, task_target

    runbook = rules.RUNBOOK.read_text()
    section = runbook.split("## BatonDatadogAccessChangeUnreported", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", section))
    for kind in sorted(PROVISIONING_TASKS):
        fields = set(task_target(_filled_task(kind), kind))
        assert fields <= named, f"{kind}: the runbook does not name {sorted(fields - named)}"


def test_every_alert_fires_on_its_condition_and_not_otherwise(tmp_path: Path) -> None:
    alerts = {r["alert"] for r in rules.alert_rules()}
    tested = [c["alert_rule_test"][0] for c in CASES]
    for alert in alerts:
        assert any(t["alertname"] == alert and t["exp_alerts"] for t in tested), f"{alert}: no firing case"
        assert any(t["alertname"] == alert and not t["exp_alerts"] for t in tested), f"{alert}: no quiet case"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules.rule_groups(annotations=False)))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": CASES}))
    result = tools.promtool("test", "rules", tmp_path / "tests.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


# The longest serviceMonitor.interval the chart renders with the alerts (tests/deploy/test_chart_values.py): at 5 m and
# beyond, Prometheus' 5-minute lookback leaves the gauges unread between scrapes.
LONGEST_SCRAPE_INTERVAL = "299s"
SLOW_SCRAPE_CASES = [
    {**c, "interval": LONGEST_SCRAPE_INTERVAL}
    for c in (
        # Not ready for hours: fires. Scraped and up all along (evaluated between two scrapes): quiet.
        case("3h", "BatonDatadogConductorOneUnreachable", [series("baton_datadog_ready", "0x60")], [fired("critical")]),
        case("3h2m", "BatonDatadogDown", [series("up", "1x60")], []),
        case("3h2m", "BatonDatadogDown", [series("up", "0x60")], [fired("critical")]),
        case("3h2m", "BatonDatadogDown", [series("up", "0x3 1 " * 12)], [fired("critical")]),
        case("3h2m", "BatonDatadogDown", [series("up", "1x3 0 " * 12)], []),
    )
]


def test_the_alerts_work_at_the_longest_scrape_interval_the_chart_accepts(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules.rule_groups(annotations=False)))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": SLOW_SCRAPE_CASES}))
    result = tools.promtool("test", "rules", tmp_path / "tests.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_and_their_templates_pass_promtool_check(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rules.rule_groups()))
    result = tools.promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_links_to_its_runbook_section() -> None:
    runbook = rules.RUNBOOK.read_text()
    anchors = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^## (.+)$", runbook, re.M)}
    for rule in rules.alert_rules():
        url = rule["annotations"]["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page == "docs/runbook.md", url
        assert anchor == rule["alert"].lower()
        assert anchor in anchors, f"docs/runbook.md has no section for {rule['alert']}"
        section = runbook.split(f"## {rule['alert']}", 1)[1].split("\n## ", 1)[0]
        for part in ("What it means", "How to confirm", "What to do"):
            assert part in section, f"{rule['alert']}: runbook section lacks {part!r}"


def _alerts_rendered_with(selector: str) -> dict[str, Any]:
    from scripts import chart_tools

    tooling.need("helm_python")
    values = {"prometheusRule": {"enabled": True, "selector": selector}}
    docs = chart_tools.manifests(chart_tools.render(values, api_versions=[chart_tools.MONITORING_API]))
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    return {"groups": rule["spec"]["groups"]}


@pytest.mark.parametrize(
    "selector",
    [
        'namespace="security", job="kubernetes-service-endpoints", service="datadog-acme"',
        "namespace='security',job=~`datadog-.*`",
        'namespace!="", job!~"other|\\"quoted\\""',
    ],
)
def test_a_selector_of_label_matchers_gives_rules_prometheus_loads(selector: str, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(_alerts_rendered_with(selector)))
    result = tools.promtool("check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "selector",
    [
        '{namespace="security", job="datadog-acme"}',  # a selector as PromQL writes it, braces and all
        'namespace="security" job="datadog-acme"',  # no comma
        'namespace="security",',  # each alert adds matchers after it: a double comma
        "namespace=security",  # an unquoted value
        "   ",
    ],
)
def test_a_selector_prometheus_could_not_parse_is_refused_at_render(selector: str) -> None:
    """The selector is pasted into every alert's expression. One that is no list of label matchers (braces around
    it, as PromQL writes a selector) rendered fine and gave rules Prometheus cannot parse: the operator's admission
    webhook refuses them at install, and without it the whole group is dropped, every alert with it, in silence."""
    with pytest.raises(Exception, match=r"prometheusRule\.selector is not a list of PromQL label matchers"):
        _alerts_rendered_with(selector)
