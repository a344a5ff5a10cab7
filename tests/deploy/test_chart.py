"""The Helm chart, rendered offline (helm-python-sdk) and validated (kubernetes-validate): `make chart-check`.

Skipped without the deploy tooling (requirements-deploy.txt), so a plain `make test` passes without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import re
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from connector.baton.runtime.http import OpsServer
from connector.baton.runtime.metrics import Metrics
from connector.daemon.settings import Settings, SettingsError, load, require_service_mode
from connector.datadog.sites import SITES
from scripts import chart_tools
from scripts.chart_tools import CHART, KUBE_VERSIONS, MONITORING_API, ROOT, VALUE_SETS
from tests.deploy import checks, tooling

tooling.need("helm_python")
tooling.need("kubernetes_validate")

Manifest = dict[str, Any]
SET_NAMES = [vs.name for vs in VALUE_SETS]


@functools.cache
def rendered(name: str, kube_version: str | None = None) -> tuple[Manifest, ...]:
    return tuple(chart_tools.manifests(chart_tools.render_set(chart_tools.value_set(name), kube_version)))


def docs_of(name: str) -> list[Manifest]:
    return [json.loads(json.dumps(doc)) for doc in rendered(name)]  # a private copy the test may change


def render_docs(values: dict[str, Any], **kw: Any) -> list[Manifest]:
    return chart_tools.manifests(chart_tools.render(values, **kw))


def one(docs: list[Manifest], kind: str) -> Manifest:
    """The one object of `kind`; of the NetworkPolicies, the release's (`helm test` brings its own for its pod)."""
    found = checks.of_kind(docs, kind)
    (doc,) = [d for d in found if not checks.is_test_hook(d)] if kind == "NetworkPolicy" else found
    return doc


VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def _env_of_key() -> dict[str, str]:
    """The template's `config` key -> variable map (the `baton-datadog.settingEnvNames` block of _helpers.tpl)."""
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    block = re.search(r'define "baton-datadog.settingEnvNames".*?end', helpers, re.S)
    assert block is not None
    return dict(re.findall(r"^(\w+): (BATON_\w+)$", block[0], re.M))


ENV_OF_KEY = _env_of_key()
FIELD_OF_KEY = {key: env.removeprefix("BATON_").lower() for key, env in ENV_OF_KEY.items()}
SECRET_FIELDS = {"client_id", "client_secret", "api_key", "app_key"}


# ---- lint, render, schema validation ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", SET_NAMES)
def test_strict_lint_is_clean(name: str) -> None:
    assert chart_tools.lint(chart_tools.value_set(name).values) == []


@pytest.mark.parametrize("version", KUBE_VERSIONS)
@pytest.mark.parametrize("name", SET_NAMES)
def test_renders_and_validates_strictly(name: str, version: str) -> None:
    docs = list(rendered(name, version))
    errors, no_schema = chart_tools.kube_errors(docs, version)
    assert errors == []
    # Only the prometheus-operator resources lack a built-in schema; their fields are checked below.
    assert {d.split("/")[0] for d in no_schema} <= {"ServiceMonitor", "PrometheusRule"}


@pytest.mark.parametrize("name", SET_NAMES)
def test_pods_are_restricted_and_probed_on_the_daemon_port(name: str) -> None:
    docs = docs_of(name)
    assert checks.security_problems(docs) == []
    assert checks.probe_problems(docs) == []
    assert checks.service_problems(docs) == []
    assert checks.lifecycle_problems(docs) == []
    assert checks.image_problems(docs) == []


@pytest.mark.parametrize("name", SET_NAMES)
def test_every_baton_name_is_a_setting_the_code_reads(name: str) -> None:
    docs = docs_of(name)
    assert checks.baton_names(docs), "expected BATON_* settings"
    assert checks.unknown_settings(docs) == []


@pytest.mark.parametrize("name", ["everything", "defaults", "connector-defaults"])
def test_rendered_settings_load_in_the_real_settings_model(name: str, clean_baton_env: pytest.MonkeyPatch) -> None:
    """Names and values: what the pod's environment holds parses with `connector.daemon.settings.load`."""
    env = checks.pod_environment(docs_of(name), host_id=f"{chart_tools.RELEASE}-baton-datadog-7d9f-x2x4z")
    for key, value in env.items():
        clean_baton_env.setenv(key, value)
    if env.get("BATON_CLIENT_ID") is None:  # the chart's defaults render an empty Secret
        clean_baton_env.setenv("BATON_CLIENT_ID", chart_tools.EXAMPLE_SECRET["clientId"])
        clean_baton_env.setenv("BATON_CLIENT_SECRET", chart_tools.EXAMPLE_SECRET["clientSecret"])
    settings = load([])
    assert settings.service_mode
    assert settings.host_id.startswith(chart_tools.RELEASE)
    if name == "everything":
        assert settings.site == "us5.datadoghq.com"
        assert settings.sync_resource_types == ["user", "role", "team"]
        assert settings.health_check_port == 9090
        assert str(settings.ca_bundle) == "/etc/baton/ca/ca.pem"
        assert settings.shutdown_grace_seconds == 40
        assert settings.provisioning
        assert settings.sync_schedules
        assert settings.sync_secrets
        assert isinstance(settings.api_key, SecretStr)
        assert settings.api_key.get_secret_value() == chart_tools.EXAMPLE_SECRET["apiKey"]
    if name == "connector-defaults":
        # A null value leaves its variable out; the health server's three settings and the shutdown grace alone
        # fall back to the chart's values (the bind address to 0.0.0.0, not the daemon's loopback default), since
        # the probes, the Service, Prometheus and terminationGracePeriodSeconds are built on them.
        assert set(env) - {"BATON_HOST_ID"} == {
            "BATON_HEALTH_CHECK",
            "BATON_HEALTH_CHECK_BIND_ADDRESS",
            "BATON_HEALTH_CHECK_PORT",
            "BATON_SHUTDOWN_GRACE_SECONDS",
        }
        assert settings.health_check_bind_address == "0.0.0.0"


# ---- values: the settings model is the source of truth ---------------------------------------------------------


def _group(info: FieldInfo) -> object:
    extra = info.json_schema_extra
    return extra.get("group") if isinstance(extra, dict) else None


def test_every_non_secret_setting_is_a_chart_value() -> None:
    """Every setting but the credentials and the host id (the pod name) is a `config` value, and no other.

    Two kinds are left out on purpose: the one-shot provisioning flags (an admin's command-line test of one access
    change; the daemon refuses them in service mode), and `insecure_base_url` (a chart never sends the Datadog keys
    over plain http).
    """
    assert set(VALUES["config"]) == set(ENV_OF_KEY), "values.yaml `config` and the template's name map differ"
    one_shot = {name for name, info in Settings.model_fields.items() if _group(info) == "One-shot provisioning"}
    assert "grant_entitlement" in one_shot
    fields = set(Settings.model_fields) - SECRET_FIELDS - {"host_id", "insecure_base_url"} - one_shot
    missing = sorted(fields - set(FIELD_OF_KEY.values()))
    assert missing == [], f"settings with no chart value: add them to values.yaml `config` and _helpers.tpl: {missing}"
    assert set(FIELD_OF_KEY.values()) <= set(Settings.model_fields)


# The only settings the chart renders by default: what a read-only pod with an emptyDir on /tmp, probed and
# scraped from outside, needs. Every other value is null, so a Secret (envFrom) decides it.
CHART_DEFAULTS = {
    "file": "/tmp/sync.c1z",
    "c1z_temp_dir": "/tmp",
    "health_check": True,
    "health_check_bind_address": "0.0.0.0",
    "health_check_port": 8081,
    # Else a Secret without the ConductorOne credentials made the pod run one-shot syncs, restarted after each.
    "require_service_mode": True,
}


def test_only_what_the_pod_needs_is_set_by_default() -> None:
    for key, value in VALUES["config"].items():
        assert value == CHART_DEFAULTS.get(FIELD_OF_KEY[key]), f"config.{key} must be null unless the pod needs it"
    assert checks.setting_default("health_check_port") == CHART_DEFAULTS["health_check_port"]


@pytest.mark.parametrize("name", ["defaults", "setup-page-secret", "existing-secret"])
def test_a_pod_without_conductorone_credentials_refuses_to_start(
    name: str, clean_baton_env: pytest.MonkeyPatch
) -> None:
    """A Secret without BATON_CLIENT_ID and BATON_CLIENT_SECRET made the pod run a one-shot sync of the org and exit
    0, restarted for good (tests/deploy/test_manifests.py runs it): the chart's pod refuses to start instead."""
    env = checks.pod_environment(docs_of(name), host_id=f"{chart_tools.RELEASE}-baton-datadog-7d9f-x2x4z")
    for key, value in env.items():
        if key not in ("BATON_CLIENT_ID", "BATON_CLIENT_SECRET"):
            clean_baton_env.setenv(key, value)
    with pytest.raises(
        SettingsError, match=r"^setting --client-id \(BATON_CLIENT_ID\): missing: --require-service-mode"
    ):
        require_service_mode(load([]))


SETUP_PAGE_SETTINGS = {
    "BATON_SITE",
    "BATON_PROVISIONING",
    "BATON_SYNC_SCHEDULES",
    "BATON_LOG_FORMAT",
    "BATON_LOG_LEVEL",
}


def test_the_users_secret_is_not_overridden_by_defaults() -> None:
    """ConductorOne's setup page Secret (`existingSecret: baton-datadog-secrets`) with default values: no env entry
    for a key the Secret holds, since `env` beats `envFrom` (an EU site would silently become datadoghq.com)."""
    docs = docs_of("setup-page-secret")
    container = checks.connector_container(one(docs, "Deployment"))
    assert container["envFrom"] == [{"secretRef": {"name": "baton-datadog-secrets"}}]
    env_names = {e["name"] for e in container["env"]}
    assert not env_names & SETUP_PAGE_SETTINGS
    assert not env_names & {"BATON_CLIENT_ID", "BATON_CLIENT_SECRET", "BATON_API_KEY", "BATON_APP_KEY"}
    notes = chart_tools.render(chart_tools.value_set("setup-page-secret").values)
    text = next(v for k, v in notes.items() if k.endswith("NOTES.txt"))
    assert "Settings from values" in text
    assert "BATON_HEALTH_CHECK_PORT" in text
    assert "BATON_SITE" not in text.split("Settings from values")[1].split("\n")[0]


def test_notes_say_extra_env_from_sources_need_a_restart_after_a_change() -> None:
    """Only the chart's own Secret rolls the pods (checksum/secret); a Secret or ConfigMap given in extraEnvFrom is
    read at start only, and NOTES said so for existingSecret alone."""
    values = {
        "secret": chart_tools.EXAMPLE_SECRET,
        "extraEnvFrom": [{"secretRef": {"name": "dd-settings"}}, {"configMapRef": {"name": "dd-proxy"}}],
    }
    text = next(v for k, v in chart_tools.render(values).items() if k.endswith("NOTES.txt"))
    line = text.split("Settings also come from extraEnvFrom:", 1)[1]
    assert 'the Secret "dd-settings", the ConfigMap "dd-proxy"' in line
    assert f"kubectl -n {chart_tools.NAMESPACE} rollout restart deployment/{chart_tools.RELEASE}-baton-datadog" in line
    plain = next(v for k, v in chart_tools.render({}).items() if k.endswith("NOTES.txt"))
    assert "extraEnvFrom:" not in plain


def test_values_that_are_set_still_win_and_notes_name_them() -> None:
    values = {"existingSecret": "baton-datadog-secrets", "config": {"site": "datadoghq.eu", "provisioning": False}}
    container = checks.connector_container(one(render_docs(values), "Deployment"))
    assert checks.plain_env(container)["BATON_SITE"] == "datadoghq.eu"
    assert checks.plain_env(container)["BATON_PROVISIONING"] == "false"
    text = next(v for k, v in chart_tools.render(values).items() if k.endswith("NOTES.txt"))
    line = next(ln for ln in text.splitlines() if ln.startswith("Settings from values"))
    assert "BATON_SITE" in line
    assert "BATON_PROVISIONING" in line
    assert "BATON_SYNC_SCHEDULES" not in line


def test_schema_is_no_looser_than_the_settings_model() -> None:
    props = SCHEMA["properties"]["config"]["properties"]
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    # Chart 0.1.0's names, in the schema only to be refused naming the new ones (tests/independent/firsthour3).
    assert set(props) == set(VALUES["config"]) | {"healthPort", "healthBindAddress"}
    assert [s for s in props["site"]["enum"] if s not in (None, "")] == list(SITES)  # "" and null: not set
    for key, field in FIELD_OF_KEY.items():
        for meta in Settings.model_fields[field].metadata:
            if hasattr(meta, "ge"):
                assert props[key].get("minimum", float("-inf")) >= meta.ge, key
            if hasattr(meta, "le"):
                assert props[key].get("maximum", float("inf")) <= meta.le, key


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"image": {"tag": "latest"}}, "tag"),
        ({"config": {"bogusSetting": True}}, "bogusSetting"),
        ({"config": {"site": "datadoghq.example"}}, "site"),
        ({"config": {"taskConcurrency": 0}}, "taskConcurrency"),
        ({"config": {"healthCheckPort": 0}}, "healthCheckPort"),
        ({"config": {"healthCheck": False}}, "healthCheck"),
        ({"config": {"file": "/var/sync.c1z"}}, "file"),
        ({"replicaCount": "two"}, "replicaCount"),
        ({"config": {"shutdownGraceSeconds": 40}}, "terminationGracePeriodSeconds"),
        # A variable set twice in `env`: Kubernetes kept the last without a word (config.logLevel lost to extraEnv).
        (
            {"config": {"logLevel": "debug"}, "extraEnv": [{"name": "BATON_LOG_LEVEL", "value": "info"}]},
            "extraEnv sets BATON_LOG_LEVEL, which config.logLevel already sets",
        ),
        ({"extraEnv": [{"name": "BATON_FILE", "value": "/tmp/x.c1z"}]}, "which config.file already sets"),
        ({"extraEnv": [{"name": "BATON_HOST_ID", "value": "one"}]}, r"which the chart \(each pod's own name\)"),
        (
            {"extraEnv": [{"name": "HTTPS_PROXY", "value": "http://a:3128"}, {"name": "HTTPS_PROXY", "value": "b"}]},
            "extraEnv sets HTTPS_PROXY twice",
        ),
    ],
)
def test_bad_values_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        chart_tools.render(values)


# ---- releases, replicas, secrets -------------------------------------------------------------------------------


def test_two_releases_side_by_side_share_no_name_or_selector() -> None:
    first = render_docs({}, release="datadog-acme")
    second = render_docs({}, release="datadog-beta")

    def names(docs: list[Manifest]) -> set[tuple[str, str]]:
        return {(d["kind"], d["metadata"]["name"]) for d in docs}

    assert not names(first) & names(second)
    selectors = [one(docs, "Deployment")["spec"]["selector"]["matchLabels"] for docs in (first, second)]
    assert selectors[0] != selectors[1]
    for docs in (first, second):
        assert all(d["metadata"].get("namespace") == chart_tools.NAMESPACE for d in docs), "no hard-coded namespace"


def test_replicas_each_report_their_own_host_id() -> None:
    deployment = one(docs_of("everything"), "Deployment")
    assert deployment["spec"]["replicas"] == 3
    container = checks.connector_container(deployment)
    (host,) = [e for e in container["env"] if e["name"] == "BATON_HOST_ID"]
    assert host["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_no_pod_is_adopted_by_the_deployment_but_its_own() -> None:
    """The `helm test` pod must not match the Deployment's selector, or its ReplicaSet would adopt it."""
    docs = docs_of("everything")
    selector = one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    pod = one(docs, "Pod")
    assert not all(pod["metadata"]["labels"].get(k) == v for k, v in selector.items())


def test_own_secret_carries_the_credentials_and_rolls_the_pods() -> None:
    docs = docs_of("everything")
    secret = one(docs, "Secret")
    assert checks.secret_data(secret) == {
        "BATON_CLIENT_ID": chart_tools.EXAMPLE_SECRET["clientId"],
        "BATON_CLIENT_SECRET": chart_tools.EXAMPLE_SECRET["clientSecret"],
        "BATON_API_KEY": chart_tools.EXAMPLE_SECRET["apiKey"],
        "BATON_APP_KEY": chart_tools.EXAMPLE_SECRET["appKey"],
    }
    container = checks.connector_container(one(docs, "Deployment"))
    assert container["envFrom"][0]["secretRef"]["name"] == secret["metadata"]["name"]
    # No credential in the pod spec itself.
    assert not {"BATON_CLIENT_SECRET", "BATON_API_KEY", "BATON_APP_KEY", "BATON_CLIENT_ID"} & set(
        checks.plain_env(container)
    )

    def checksum(values: dict[str, Any]) -> str:
        pod = one(render_docs(values), "Deployment")["spec"]["template"]
        return str(pod["metadata"]["annotations"]["checksum/secret"])

    base = {"secret": chart_tools.EXAMPLE_SECRET}
    rotated = {"secret": {**chart_tools.EXAMPLE_SECRET, "apiKey": "f" * 32}}
    assert checksum(base) != checksum(rotated)


def test_existing_secret_is_used_and_no_secret_rendered() -> None:
    docs = docs_of("existing-secret")
    assert checks.of_kind(docs, "Secret") == []
    deployment = one(docs, "Deployment")
    container = checks.connector_container(deployment)
    assert container["envFrom"] == [{"secretRef": {"name": "datadog-acme-credentials"}}]
    assert "checksum/secret" not in (deployment["spec"]["template"]["metadata"].get("annotations") or {})


def test_default_chart_sets_no_credentials_and_says_so() -> None:
    notes = chart_tools.render({})
    text = next(v for k, v in notes.items() if k.endswith("NOTES.txt"))
    assert "WARNING: credentials are missing" in text
    assert checks.secret_data(one(docs_of("defaults"), "Secret")) == {}


# ---- optional resources ----------------------------------------------------------------------------------------


def test_service_monitor_needs_both_the_value_and_the_api() -> None:
    enabled = {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}}
    without_api = render_docs(enabled)
    assert checks.of_kind(without_api, "ServiceMonitor") == []
    assert checks.of_kind(without_api, "PrometheusRule") == []
    assert checks.of_kind(render_docs({}, api_versions=[MONITORING_API]), "ServiceMonitor") == []

    docs = docs_of("everything")
    monitor = one(docs, "ServiceMonitor")
    service = one(docs, "Service")
    assert monitor["apiVersion"] == MONITORING_API
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert all(service["metadata"]["labels"].get(k) == v for k, v in selector.items())
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [chart_tools.NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "metrics"
    assert endpoint["path"] == checks.METRICS_PATH
    assert "metrics" in {p["name"] for p in service["spec"]["ports"]}
    assert service["spec"]["publishNotReadyAddresses"] is True


def test_prometheus_rule_alerts_on_the_daemon_metrics() -> None:
    rule = one(docs_of("everything"), "PrometheusRule")
    assert checks.rule_problems(rule) == []
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    wanted = {
        "BatonDatadogSyncStale": "baton_datadog_last_successful_sync_timestamp_seconds",
        "BatonDatadogNeverSynced": "baton_datadog_last_successful_sync_timestamp_seconds",
        "BatonDatadogTaskFailures": "baton_datadog_tasks_finished_total",
        "BatonDatadogAccessChangeUnreported": "baton_datadog_tasks_finished_total",
        "BatonDatadogConductorOneUnreachable": "baton_datadog_conductorone_rpc_errors_total",
        "BatonDatadogRateLimited": "baton_datadog_api_rate_limit_waits_total",
    }
    for alert, metric in wanted.items():
        assert metric in alerts[alert]["expr"], alert
        assert 'job="datadog-acme-baton-datadog"' in alerts[alert]["expr"], "scoped to this release"
    assert "> 21600" in alerts["BatonDatadogSyncStale"]["expr"], "6 hours by default"
    # Prometheus templating survives Helm's.
    assert "{{ $labels.job }}" in alerts["BatonDatadogSyncStale"]["annotations"]["description"]


def test_network_policy_allows_dns_and_https_out_and_metrics_in_only() -> None:
    docs = docs_of("everything")
    policy = one(docs, "NetworkPolicy")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    egress_ports = {(p["port"], p["protocol"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    # DNS, HTTPS, and the value set's HTTPS_PROXY port through networkPolicy.extraEgress.
    assert egress_ports == {(53, "UDP"), (53, "TCP"), (443, "TCP"), (3128, "TCP")}
    ingress_ports = [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]]
    assert ingress_ports == ["metrics"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector == one(docs, "Deployment")["spec"]["selector"]["matchLabels"]


def test_pod_disruption_budget_selects_the_connector_pods() -> None:
    docs = docs_of("everything")
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == one(docs, "Deployment")["spec"]["selector"]["matchLabels"]
    assert checks.of_kind(docs_of("defaults"), "PodDisruptionBudget") == []


def test_helm_test_hook_checks_health_through_the_service() -> None:
    raw = chart_tools.render_set(chart_tools.value_set("everything"))
    (path,) = [p for p, text in raw.items() if "/templates/tests/" in p and text.strip()]
    pod = chart_tools.load_yaml_documents(raw[path])[0]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = "\n".join(pod["spec"]["containers"][0]["args"])
    assert checks.HEALTHZ_PATH in script
    assert checks.READYZ_PATH in script, "helm test also checks that the pod is connected to ConductorOne"
    assert checks.METRICS_PATH in script
    assert ":9090" in script, "follows service.port"
    assert pod["spec"]["restartPolicy"] == "Never"
    deployment = one(docs_of("everything"), "Deployment")
    assert pod["spec"]["containers"][0]["image"] == checks.connector_container(deployment)["image"]


def test_helm_test_has_its_own_way_out_where_the_release_has_a_network_policy() -> None:
    """In a namespace whose default policy denies egress, the connector's policy let the test pod in but nothing let
    it out: `helm test` said "no answer" of a healthy pod. With the chart's NetworkPolicy, the test brings one for its
    pod alone, made before the pod and deleted with it, letting out DNS and the connector pods' health port only."""
    docs = docs_of("everything")
    (test_pod,) = [d for d in checks.of_kind(docs, "Pod") if checks.is_test_hook(d)]
    (policy,) = [d for d in checks.of_kind(docs, "NetworkPolicy") if checks.is_test_hook(d)]
    annotations = policy["metadata"]["annotations"]
    assert int(annotations["helm.sh/hook-weight"]) < int(
        test_pod["metadata"]["annotations"].get("helm.sh/hook-weight", 0)
    )
    assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"]
    selected = policy["spec"]["podSelector"]["matchLabels"]
    assert selected.items() <= test_pod["metadata"]["labels"].items()
    connector = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert not selected.items() <= connector.items(), "the connector pods keep their own policy"
    assert policy["spec"]["policyTypes"] == ["Egress"]
    dns, health = policy["spec"]["egress"]
    assert {(p["port"], p["protocol"]) for p in dns["ports"]} == {(53, "UDP"), (53, "TCP")}
    assert dns["to"] == one(docs, "NetworkPolicy")["spec"]["egress"][0]["to"], "DNS goes where the connector's goes"
    assert health["ports"] == [{"port": "metrics", "protocol": "TCP"}]
    (peer,) = health["to"]
    assert peer["podSelector"]["matchLabels"].items() <= connector.items()
    # The connector's policy lets the test pod in on that port.
    (ingress,) = one(docs, "NetworkPolicy")["spec"]["ingress"]
    assert any(
        p.get("podSelector", {}).get("matchLabels", {}).items() <= test_pod["metadata"]["labels"].items()
        for p in ingress["from"]
    )
    # No NetworkPolicy for the release, none for the test either.
    assert checks.of_kind(docs_of("defaults"), "NetworkPolicy") == []


def helm_test_script(values: dict[str, Any]) -> str:
    raw = chart_tools.render(values)
    (path,) = [p for p, text in raw.items() if "/templates/tests/" in p and text.strip()]
    pod = chart_tools.load_yaml_documents(raw[path])[0]
    assert pod["spec"]["containers"][0]["command"] == ["python3", "-c"]
    (script,) = pod["spec"]["containers"][0]["args"]
    service = f"http://{chart_tools.RELEASE}-baton-datadog.{chart_tools.NAMESPACE}.svc:8081"
    assert service in script
    return str(script).replace(service, "http://127.0.0.1:{port}")


@contextlib.contextmanager
def health_server(readiness: tuple[bool, str]) -> Iterator[int]:
    """The connector's own health server on a loopback port, in a thread, answering `readiness` on /readyz."""
    loop = asyncio.new_event_loop()
    server = OpsServer(Metrics("baton_datadog", "0.0.0"), lambda: readiness, "127.0.0.1", 0)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        assert server.bound_port
        yield server.bound_port
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def run_helm_test(script: str, port: int) -> subprocess.CompletedProcess[str]:
    # Its pauses between tries taken out: what is under test is what it says, not how long it waits.
    code = "import time\ntime.sleep = lambda seconds: None\n" + script.replace("{port}", str(port))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)


def test_helm_test_passes_against_a_ready_pod() -> None:
    with health_server((True, "")) as port:
        done = run_helm_test(helm_test_script({}), port)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["/healthz 200", "/readyz 200", "/metrics 200"]


def test_helm_test_says_why_the_pod_is_not_ready() -> None:
    """A pod answering /readyz with 503 made `helm test` print "/readyz: no answer" after its tries: urllib raises a
    503 as an OSError, so the reason the pod gave (the Hello to ConductorOne not yet answered, the credentials
    refused, a drain) was never shown, and the operator looked for a network problem."""
    reason = "waiting for a successful Hello to ConductorOne"
    with health_server((False, reason)) as port:
        done = run_helm_test(helm_test_script({}), port)
    assert done.returncode == 1
    assert done.stdout.splitlines()[:2] == ["/healthz 200", f"/readyz: answered 503 ({reason}); retrying"]
    assert done.stderr.splitlines() == [f"/readyz: answered 503 ({reason}) to each of 30 tries"]


def test_helm_test_says_when_nothing_answers() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: every connection is refused
        done = run_helm_test(helm_test_script({}), closed.getsockname()[1])
    assert done.returncode == 1
    (last,) = done.stderr.splitlines()
    assert last.startswith("/healthz: no answer ("), last
    assert last.endswith(") to each of 30 tries"), last


@contextlib.contextmanager
def not_http_server(answer: bytes) -> Iterator[int]:
    """A loopback port whose listener answers every connection with `answer` and closes it: not HTTP (a TLS-only
    port, a mesh sidecar, another program on the port)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(4096)
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()


@pytest.mark.parametrize(
    "answer",
    [b"\x15\x03\x01\x00\x02\x02\x46", b"SSH-2.0-OpenSSH_9.6\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"],
    ids=["a TLS alert", "another protocol", "a body cut short"],
)
def test_helm_test_says_what_answered_when_it_is_not_http(answer: bytes) -> None:
    """An answer that is not HTTP, or one cut short, ended `helm test` at once with a Python traceback of
    http.client (BadStatusLine, IncompleteRead are no OSError): no retry, and nothing saying what answered. It is
    retried and named like no answer at all."""
    with not_http_server(answer) as port:
        done = run_helm_test(helm_test_script({}), port)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    (last,) = done.stderr.splitlines()
    assert last.startswith("/healthz: not an HTTP answer ("), last
    assert last.endswith(") to each of 30 tries"), last


# ---- versions --------------------------------------------------------------------------------------------------


def test_app_version_is_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["apiVersion"] == "v2"
    assert str(chart["appVersion"]) == project["version"]
    image = checks.connector_container(one(docs_of("defaults"), "Deployment"))["image"]
    assert image.endswith(":" + project["version"])


def test_value_sets_cover_the_optional_resources() -> None:
    kinds = {d["kind"] for vs in VALUE_SETS for d in rendered(vs.name)}
    assert {"ServiceMonitor", "PrometheusRule", "PodDisruptionBudget", "NetworkPolicy", "Secret", "ConfigMap"} <= kinds


def test_dashboard_config_map_carries_the_dashboard_file_for_the_sidecar() -> None:
    assert checks.of_kind(docs_of("defaults"), "ConfigMap") == [], "off by default"
    (config_map,) = checks.of_kind(docs_of("everything"), "ConfigMap")
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads((CHART / "dashboards" / "baton-datadog.json").read_text())
    assert json.loads(config_map["data"]["baton-datadog.json"]) == shipped


def test_a_ca_bundle_is_mounted_into_the_read_only_root() -> None:
    container = checks.connector_container(one(docs_of("everything"), "Deployment"))
    pod = one(docs_of("everything"), "Deployment")["spec"]["template"]["spec"]
    assert {"name": "ca", "mountPath": "/etc/baton/ca", "readOnly": True} in container["volumeMounts"]
    assert {"name": "ca", "configMap": {"name": "corporate-ca"}} in pod["volumes"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert checks.plain_env(container)["BATON_CA_BUNDLE"] == "/etc/baton/ca/ca.pem"


def test_service_is_annotated_for_annotation_based_scraping() -> None:
    service = one(docs_of("everything"), "Service")
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9090"
    assert annotations["prometheus.io/path"] == checks.METRICS_PATH
