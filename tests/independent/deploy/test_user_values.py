"""The chart and deploy/ under the values a real user writes (issues 5 and 9, §1 of issue 9 above all): falsy
values set on purpose, nulls, a Secret beside values, extraEnv and extraEnvFrom naming the connector's own
settings, long names, another namespace, `--set` strings that look like numbers or booleans, and the optional
resources switched on and off. What a value says either reaches the pod as written or is refused by name; the
rendered NOTES say truthfully where each setting comes from.

An independent suite beside tests/deploy (other cases, same tooling); skipped like it without the tooling.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
from typing import Any

import pytest
import yaml

from connector.daemon.settings import load
from scripts import chart_tools
from scripts.chart_tools import CHART, DEPLOY, MONITORING_API
from tests.deploy import checks, tooling

tooling.need("helm_python")
tooling.need("kubernetes_validate")

Manifest = dict[str, Any]
PAGE_SECRET = "baton-datadog-secrets"
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
ON = {
    "serviceMonitor": {"enabled": True},
    "prometheusRule": {"enabled": True},
    "dashboard": {"enabled": True},
    "podDisruptionBudget": {"enabled": True},
    "networkPolicy": {"enabled": True},
}


@pytest.fixture
def clean_baton_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No BATON_* variable of the test runner's own environment reaches a settings load."""
    for name in list(os.environ):
        if name.startswith("BATON_"):
            monkeypatch.delenv(name)
    return monkeypatch


def render(values: dict[str, Any], **kw: Any) -> tuple[list[Manifest], str]:
    out = chart_tools.render(values, **kw)
    notes = next(text for path, text in out.items() if path.endswith("NOTES.txt"))
    return chart_tools.manifests(out), notes


def container(docs: list[Manifest]) -> Manifest:
    (deployment,) = checks.connector_deployments(docs)
    return checks.connector_container(deployment)


def env_names(docs: list[Manifest]) -> list[str]:
    return [e["name"] for e in container(docs)["env"]]


def from_values_line(notes: str) -> str:
    return next(line for line in notes.splitlines() if line.startswith("Settings from values"))


def valid(docs: list[Manifest]) -> None:
    for version in chart_tools.KUBE_VERSIONS:
        errors, _ = chart_tools.kube_errors(docs, version)
        assert errors == [], version


# ---- falsy values: set on purpose, they are rendered and win ---------------------------------------------------

# Every config value whose schema takes false or 0, at that value: each is a decision, not an absence.
FALSY: dict[str, bool | int] = {
    "provisioning": False,
    "syncSchedules": False,
    "syncSecrets": False,
    "syncServiceAccountApplicationKeys": False,
    "allowOrgApiKeyDeletion": False,
    "skipEntitlementsAndGrants": False,
    "skipGrants": False,
    "skipFullSync": False,
    "syncInterval": 0,
    "shutdownGraceSeconds": 0,
    "requireServiceMode": False,
}


def test_false_and_zero_set_in_values_are_rendered_and_beat_the_setup_page_secret(
    clean_baton_env: pytest.MonkeyPatch,
) -> None:
    """Helm's `if` reads false and 0 as unset: a chart testing the value with `if`/`with` would drop them, and the
    Secret's BATON_PROVISIONING "true" would win over the user's explicit false."""
    docs, notes = render({"existingSecret": PAGE_SECRET, "config": FALSY})
    env = checks.plain_env(container(docs))
    for key, value in FALSY.items():
        variable = "BATON_" + re.sub(r"(?<!^)([A-Z])", r"_\1", key).upper()
        assert env[variable] == json.dumps(value), key
        assert variable in from_values_line(notes), key
    # What is rendered is what the connector reads: false is false and 0 is 0, not a parse error.
    for name, text in env.items():
        clean_baton_env.setenv(name, text)
    clean_baton_env.setenv("BATON_CLIENT_ID", "c@t.conductor.one/pcc")
    clean_baton_env.setenv("BATON_CLIENT_SECRET", "s")
    clean_baton_env.setenv("BATON_API_KEY", "0123456789abcdef0123456789abcdef")
    clean_baton_env.setenv("BATON_APP_KEY", "0123456789abcdef0123456789abcdef01234567")
    settings = load([])
    assert settings.provisioning is False
    assert settings.sync_interval == 0
    assert settings.shutdown_grace_seconds == 0
    assert "Provisioning is ON" not in notes


def test_null_means_not_set_so_the_secret_decides_and_notes_do_not_claim_it() -> None:
    config = dict.fromkeys(FALSY, None) | {"site": None, "logFormat": None, "logLevel": None}
    docs, notes = render({"existingSecret": PAGE_SECRET, "config": config})
    rendered = set(env_names(docs))
    for variable in (
        "BATON_SITE",
        "BATON_PROVISIONING",
        "BATON_SYNC_SCHEDULES",
        "BATON_LOG_FORMAT",
        "BATON_SYNC_INTERVAL",
    ):
        assert variable not in rendered
        assert variable not in from_values_line(notes)


def test_an_empty_list_or_string_is_not_set_as_the_chart_documents() -> None:
    """values.yaml, "Connector settings": a value left null is not rendered; the configEnv helper leaves out an empty
    string or list as well ("A null, empty string or empty list is left out"), as the connector itself reads an
    empty variable as not set. Where the schema takes "" at all (logFormat), the Secret then decides."""
    config = {"syncResourceTypes": [], "syncResources": [], "logFormat": ""}
    docs, notes = render({"existingSecret": PAGE_SECRET, "config": config})
    assert not {"BATON_SYNC_RESOURCE_TYPES", "BATON_SYNC_RESOURCES", "BATON_LOG_FORMAT"} & set(env_names(docs))
    assert "BATON_SYNC_RESOURCE" not in from_values_line(notes)
    assert "BATON_LOG_FORMAT" not in from_values_line(notes)


# ---- --set strings that look like numbers or booleans ----------------------------------------------------------

# What `helm --set` makes of them: strvals keeps "0123" (a leading zero), "yes" and "1e3" as strings.
LOOKALIKES = ["0123", "yes", "1e3", "true", "0", "null", "~", "0x1F", "1_000", "+1", ".5", "on"]


@pytest.mark.parametrize("text", LOOKALIKES)
def test_strings_that_look_like_numbers_or_booleans_reach_the_pod_exactly(text: str) -> None:
    values: dict[str, Any] = {
        "existingSecret": PAGE_SECRET,
        "extraEnv": [{"name": "LOOKALIKE", "value": text}],
        "podAnnotations": {"example.com/note": text},
    }
    host = re.fullmatch(r"[A-Za-z0-9.-]+", text) is not None  # the schema's host pattern
    if host:
        values["config"] = {"c1ApiHost": text}
    label = LABEL_VALUE.fullmatch(text) is not None
    if label:
        values["commonLabels"] = {"note": text}
    docs, _ = render(values)
    env = checks.plain_env(container(docs))
    assert env["LOOKALIKE"] == text
    if host:
        assert env["BATON_C1_API_HOST"] == text
    (deployment,) = checks.connector_deployments(docs)
    assert deployment["spec"]["template"]["metadata"]["annotations"]["example.com/note"] == text
    if label:
        assert deployment["metadata"]["labels"]["note"] == text
    valid(docs)


@pytest.mark.parametrize("text", ["0123", "1e3", "yes", "00000000000000000000000000000001"])
def test_credentials_that_look_like_numbers_are_stored_exactly(text: str) -> None:
    secret = {"clientId": text, "clientSecret": text, "apiKey": text, "appKey": text}
    docs, _ = render({"secret": secret})
    (doc,) = [d for d in docs if d["kind"] == "Secret"]
    assert {k: base64.b64decode(v).decode() for k, v in doc["data"].items()} == {
        "BATON_CLIENT_ID": text,
        "BATON_CLIENT_SECRET": text,
        "BATON_API_KEY": text,
        "BATON_APP_KEY": text,
    }


def test_targets_that_look_like_numbers_stay_strings_in_the_json_list() -> None:
    targets = ["user:0123", "team:1e3", "role:yes"]
    docs, _ = render({"existingSecret": PAGE_SECRET, "config": {"syncResources": targets}})
    assert json.loads(checks.plain_env(container(docs))["BATON_SYNC_RESOURCES"]) == targets


# ---- extraEnv / extraEnvFrom naming the connector's settings ---------------------------------------------------


def test_extra_env_setting_a_null_config_value_wins_and_notes_say_so() -> None:
    """extraEnv may set BATON_SITE while config.site is null; as env it beats the Secret, so NOTES may not say that
    every setting outside "Settings from values" comes from the Secret."""
    values = {
        "existingSecret": PAGE_SECRET,
        "extraEnv": [
            {"name": "BATON_SITE", "value": "datadoghq.eu"},
            {"name": "BATON_PROVISIONING", "valueFrom": {"configMapKeyRef": {"name": "flags", "key": "provisioning"}}},
        ],
    }
    docs, notes = render(values)
    assert checks.plain_env(container(docs))["BATON_SITE"] == "datadoghq.eu"
    line = from_values_line(notes)
    assert "BATON_SITE" in line
    assert "BATON_PROVISIONING" in line


@pytest.mark.parametrize("name", ["BATON_CLIENT_ID", "BATON_CLIENT_SECRET", "BATON_API_KEY", "baton_app_key"])
@pytest.mark.parametrize("secret", [{}, {"existingSecret": PAGE_SECRET}])
def test_a_credential_as_a_plain_extra_env_value_is_refused(name: str, secret: dict[str, Any]) -> None:
    """values.yaml, "Credentials": they reach the container only through a Secret. A plain value would sit in clear
    text in the Deployment, every ReplicaSet and the release history."""
    values = {**secret, "extraEnv": [{"name": name, "value": "canary-not-in-a-secret"}]}
    with pytest.raises(Exception, match=f"extraEnv sets {name.upper()} as a plain value") as raised:
        render(values)
    assert "canary-not-in-a-secret" not in str(raised.value)


def test_a_credential_from_another_secret_by_reference_is_taken() -> None:
    ref = {"secretKeyRef": {"name": "vault-synced", "key": "dd-api-key"}}
    docs, notes = render({"existingSecret": PAGE_SECRET, "extraEnv": [{"name": "BATON_API_KEY", "valueFrom": ref}]})
    (entry,) = [e for e in container(docs)["env"] if e["name"] == "BATON_API_KEY"]
    assert entry["valueFrom"] == ref
    assert "BATON_API_KEY" in from_values_line(notes)


def test_a_variable_name_holding_a_value_is_refused_without_quoting_it() -> None:
    # `BATON_API_KEY=<key>` written as the name: the schema's pattern error quoted it whole into helm's output.
    canary = "CANARY0123456789abcdef"
    ref = {"secretKeyRef": {"name": "x", "key": "y"}}
    with pytest.raises(Exception, match="/extraEnv/0/name") as raised:
        render({"existingSecret": PAGE_SECRET, "extraEnv": [{"name": f"BATON_API_KEY={canary}", "valueFrom": ref}]})
    assert canary not in str(raised.value)


def test_an_empty_value_beside_a_secret_reference_is_taken_as_kubernetes_takes_it() -> None:
    # Tools that fill every field write `value: ""` beside `valueFrom`; it holds nothing in clear text.
    ref = {"secretKeyRef": {"name": "vault-synced", "key": "dd-api-key"}}
    docs, _ = render(
        {"existingSecret": PAGE_SECRET, "extraEnv": [{"name": "BATON_API_KEY", "value": "", "valueFrom": ref}]}
    )
    (entry,) = [e for e in container(docs)["env"] if e["name"] == "BATON_API_KEY"]
    assert entry["valueFrom"] == ref


def test_credentials_all_given_by_secret_references_are_not_called_missing() -> None:
    # The chart's own refusal sends a user to valueFrom.secretKeyRef: NOTES must not then warn that the connector will
    # exit for want of credentials.
    names = ["BATON_CLIENT_ID", "BATON_CLIENT_SECRET", "BATON_API_KEY", "BATON_APP_KEY"]
    extra = [{"name": n, "valueFrom": {"secretKeyRef": {"name": "vault-synced", "key": n.lower()}}} for n in names]
    _, notes = render({"extraEnv": extra})
    assert "credentials are missing" not in notes
    _, notes = render({"extraEnv": extra[:3]})
    assert "credentials are missing" in notes
    # The connector reads upper-case names only: a lower-case one supplies nothing.
    lower = {**extra[3], "name": names[3].lower()}
    _, notes = render({"extraEnv": [*extra[:3], lower]})
    assert "credentials are missing" in notes


def test_a_config_value_beats_the_same_key_in_extra_env_from_and_notes_say_which() -> None:
    values = {
        "existingSecret": "acme-credentials",
        "extraEnvFrom": [{"secretRef": {"name": PAGE_SECRET}}, {"configMapRef": {"name": "acme-flags"}}],
        "config": {"site": "datadoghq.eu", "provisioning": False},
    }
    docs, notes = render(values)
    c = container(docs)
    # The credentials Secret last among envFrom (it wins there); env over every envFrom.
    assert c["envFrom"][-1] == {"secretRef": {"name": "acme-credentials"}}
    assert checks.plain_env(c)["BATON_PROVISIONING"] == "false"
    line = from_values_line(notes)
    assert "BATON_SITE" in line
    assert "BATON_PROVISIONING" in line
    assert "BATON_SYNC_SCHEDULES" not in line
    assert f'the Secret "{PAGE_SECRET}"' in notes
    assert 'the ConfigMap "acme-flags"' in notes


def test_existing_secret_with_secret_values_is_refused_by_name() -> None:
    with pytest.raises(Exception, match=r"secret\.apiKey and existingSecret are both set"):
        render({"existingSecret": PAGE_SECRET, "secret": {"apiKey": "k"}})


# ---- a value set to null is "not set": never a silent 0, empty or off ------------------------------------------

# Chart values a template reads with no fallback: given as null (Helm then drops the default), each rendered a
# working-looking manifest that was wrong: 0 replicas, Service port 0, no rollback history, a disruption budget
# that blocks every drain, a token mounted, alerts firing at once (thresholds 0) with "%!s(<nil>)" runbook links,
# no scrape annotations, no `helm test`, a dashboard Grafana never loads.
NULL_MEANS_NOT_SET = [
    ("replicaCount",),
    ("revisionHistoryLimit",),
    ("terminationGracePeriodSeconds",),
    ("service", "type"),
    ("service", "port"),
    ("service", "publishNotReadyAddresses"),
    ("serviceAccount", "create"),
    ("serviceAccount", "automountServiceAccountToken"),
    ("metricsAnnotations", "enabled"),
    ("tests", "enabled"),
    ("prometheusRule", "noSuccessfulSyncHours"),
    ("prometheusRule", "taskFailuresThreshold"),
    ("prometheusRule", "c1UnreachableMinutes"),
    ("prometheusRule", "rateLimitWaitsThreshold"),
    ("prometheusRule", "runbookUrl"),
    ("podDisruptionBudget", "maxUnavailable"),
    ("dashboard", "labels"),
    ("serviceMonitor", "interval"),
    ("serviceMonitor", "scrapeTimeout"),
    ("serviceMonitor", "relabelings"),
    ("serviceMonitor", "metricRelabelings"),
]


@pytest.mark.parametrize("path", NULL_MEANS_NOT_SET, ids=".".join)
def test_a_chart_value_given_as_null_is_refused_by_name(path: tuple[str, ...]) -> None:
    values: dict[str, Any] = copy.deepcopy(ON)
    node = values
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = None
    with pytest.raises(Exception, match=f"missing property '{path[-1]}'"):
        chart_tools.render(values, api_versions=[MONITORING_API])


def test_a_dashboard_without_any_label_is_refused() -> None:
    """Grafana's sidecar finds dashboards by label: removing the default one left a ConfigMap nothing loads."""
    with pytest.raises(Exception, match=r"dashboard\.labels: the dashboard needs a label"):
        render({"dashboard": {"enabled": True, "labels": {"grafana_dashboard": None}}})
    # The sidecar's label in commonLabels is what the chart's clash check asks for: it counts.
    docs, _ = render(
        {
            "commonLabels": {"grafana_dashboard": "1"},
            "dashboard": {"enabled": True, "labels": {"grafana_dashboard": None}},
        }
    )
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    # A dashboard that is off needs no label.
    render({"dashboard": {"enabled": False, "labels": {"grafana_dashboard": None}}})
    docs, _ = render({"dashboard": {"enabled": True, "labels": {"my_sidecar": "yes"}}})
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert cm["metadata"]["labels"]["my_sidecar"] == "yes"


# ---- names and namespaces --------------------------------------------------------------------------------------

DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def label_problems(node: Any, where: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("labels", "matchLabels") and isinstance(value, dict):
                found += [
                    f"{where}.{key}.{k}" for k, v in value.items() if len(str(v)) > 63 or not LABEL_VALUE.match(str(v))
                ]
            else:
                found += label_problems(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += label_problems(value, f"{where}[{i}]")
    return found


@pytest.mark.parametrize(
    ("release", "namespace", "names"),
    [
        ("r" * 53, "n" * 63, {"nameOverride": "x" * 63}),
        ("acme", "team-security", {"fullnameOverride": "f" * 63}),
        ("a" * 53, "default", {"nameOverride": "b" * 9 + "-" + "c" * 53}),
        ("datadog-acme", "kube-" + "z" * 58, {}),
    ],
)
def test_long_names_and_another_namespace_give_objects_kubernetes_takes(
    release: str, namespace: str, names: dict[str, str]
) -> None:
    values = copy.deepcopy(ON) | {"secret": chart_tools.EXAMPLE_SECRET} | names
    docs, notes = render(values, release=release, namespace=namespace, api_versions=[MONITORING_API])
    valid(docs)
    fullname = next(d for d in docs if d["kind"] == "Service")["metadata"]["name"]
    assert len(fullname) <= 63
    assert not fullname.endswith("-")
    for doc in docs:
        name = doc["metadata"]["name"]
        assert DNS_1123.match(name), name
        assert len(name) <= 253, name
        assert doc["metadata"]["namespace"] == namespace, name
        assert label_problems(doc) == [], name
    test_pod = next(d for d in docs if d["kind"] == "Pod")
    assert f"http://{fullname}.{namespace}.svc:" in test_pod["spec"]["containers"][0]["args"][0]
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    for alert in rule["spec"]["groups"][0]["rules"]:
        assert f'namespace="{namespace}", job="{fullname}"' in alert["expr"], alert["alert"]
    assert f"-n {namespace}" in notes


# ---- ports, probes and the bind address changed together -------------------------------------------------------


@pytest.mark.parametrize(("port", "address"), [(9100, "::"), (1024, "0.0.0.0"), (65535, "::")])
def test_health_port_bind_address_and_service_port_move_together(port: int, address: str) -> None:
    values = copy.deepcopy(ON) | {
        "config": {"healthCheckPort": port, "healthCheckBindAddress": address},
        "service": {"port": 9200},
        "startupProbe": {"periodSeconds": 1, "failureThreshold": 90},
    }
    docs, notes = render(values, api_versions=[MONITORING_API])
    valid(docs)
    c = container(docs)
    env = checks.plain_env(c)
    assert env["BATON_HEALTH_CHECK_PORT"] == str(port)
    assert env["BATON_HEALTH_CHECK_BIND_ADDRESS"] == address
    assert c["ports"] == [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
    assert checks.probe_problems(docs) == []
    assert c["startupProbe"]["periodSeconds"] == 1
    assert c["startupProbe"]["failureThreshold"] == 90
    assert checks.service_problems(docs) == []
    (service,) = [d for d in docs if d["kind"] == "Service"]
    assert service["spec"]["ports"][0]["port"] == 9200
    assert service["metadata"]["annotations"]["prometheus.io/port"] == str(port)
    (policy,) = [d for d in docs if d["kind"] == "NetworkPolicy" and not checks.is_test_hook(d)]
    assert {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]} <= {"metrics", port}
    assert "port-forward svc/" in notes
    assert "9200" in notes


# ---- the optional resources, on and off ------------------------------------------------------------------------


@pytest.mark.parametrize("api", [True, False])
def test_dashboard_and_alert_toggles_render_only_what_is_asked_and_notes_say_what_is_missing(api: bool) -> None:
    apis = [MONITORING_API] if api else []
    for dashboard in (True, False):
        for rules in (True, False):
            values = {
                "dashboard": {"enabled": dashboard},
                "prometheusRule": {"enabled": rules},
                "serviceMonitor": {"enabled": rules},
            }
            docs, notes = render(values, api_versions=apis)
            kinds = [d["kind"] for d in docs]
            assert kinds.count("ConfigMap") == int(dashboard)
            assert kinds.count("PrometheusRule") == int(rules and api)
            assert kinds.count("ServiceMonitor") == int(rules and api)
            assert ("no PrometheusRule was created" in notes) == (rules and not api)
            valid(docs)


def test_helm_test_pods_follow_the_tests_toggle_and_stay_restricted() -> None:
    docs, notes = render({"tests": {"enabled": False}, "networkPolicy": {"enabled": True}})
    assert not [d for d in docs if checks.is_test_hook(d)]
    assert "helm test" not in notes
    docs, notes = render({"networkPolicy": {"enabled": True}}, namespace="other-ns")
    hooks = [d for d in docs if checks.is_test_hook(d)]
    assert sorted(d["kind"] for d in hooks) == ["NetworkPolicy", "Pod"]
    assert checks.security_problems(hooks) == []
    (pod,) = [d for d in hooks if d["kind"] == "Pod"]
    script = pod["spec"]["containers"][0]["args"][0]
    assert script.index('get("/healthz")') < script.index('get("/readyz")')
    assert ".other-ns.svc:8081" in script
    assert "helm test datadog-acme -n other-ns" in notes


# ---- deploy/: the setup page's Secret, as a user pastes it -----------------------------------------------------


def test_the_plain_secret_quotes_every_value_as_text() -> None:
    """Each stringData value is written in double quotes, so a later edit to `true`, `0123` or `1e3` stays text."""
    text = (DEPLOY / "baton-datadog-secrets.yaml").read_text()
    body = text.split("stringData:", 1)[1]
    entries = [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert {entry.split(":", 1)[0] for entry in entries} == {
        "BATON_CLIENT_ID",
        "BATON_CLIENT_SECRET",
        "BATON_API_KEY",
        "BATON_APP_KEY",
        "BATON_SITE",
        "BATON_PROVISIONING",
        "BATON_SYNC_SCHEDULES",
    }
    for entry in entries:
        assert re.fullmatch(r'BATON_[A-Z_]+: "[^"]*"', entry), entry


def test_the_plain_deployment_takes_the_secret_exactly_as_the_setup_page_shows() -> None:
    docs = chart_tools.deploy_manifests()
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    c = checks.connector_container(deployment)
    assert c["envFrom"] == [{"secretRef": {"name": PAGE_SECRET}}]
    secret_keys = set(checks.secret_data(next(d for d in docs if d["kind"] == "Secret")))
    assert not secret_keys & {e["name"] for e in c["env"]}
    assert CHART.exists()
    assert yaml.safe_load((CHART / "values.yaml").read_text())["extraEnvFrom"] == []


def test_alert_thresholds_set_to_zero_alert_on_the_first_event() -> None:
    """0 is a threshold a user means ("any failure"), not "unset, take the default 5 / 100"."""
    values = copy.deepcopy(ON) | {
        "prometheusRule": {"enabled": True, "taskFailuresThreshold": 0, "rateLimitWaitsThreshold": 0}
    }
    docs, _ = render(values, api_versions=[MONITORING_API])
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    exprs = {r["alert"]: r["expr"] for r in rule["spec"]["groups"][0]["rules"]}
    assert exprs["BatonDatadogTaskFailures"].rstrip().endswith("> 0")
    assert exprs["BatonDatadogRateLimited"].rstrip().endswith("> 0")
