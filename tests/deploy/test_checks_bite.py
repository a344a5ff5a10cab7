"""The checks catch what they claim to: each test breaks a copy of a good manifest and expects a problem.

The deploy/ mutations need no tooling; the chart ones render a mutated copy of the chart (helm-python-sdk) and
are skipped without it.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connector.daemon.settings import SettingsError, load
from scripts import chart_tools
from tests.deploy import checks, tooling

Manifest = dict[str, Any]
Mutation = Callable[[list[Manifest]], None]


def deploy_docs() -> list[Manifest]:
    return copy.deepcopy(chart_tools.deploy_manifests())


def container(docs: list[Manifest]) -> Manifest:
    (deployment,) = checks.of_kind(docs, "Deployment")
    return checks.connector_container(deployment)


def pod_spec(docs: list[Manifest]) -> Manifest:
    (deployment,) = checks.of_kind(docs, "Deployment")
    spec: Manifest = deployment["spec"]["template"]["spec"]
    return spec


def set_env(docs: list[Manifest], name: str, value: str) -> None:
    env = container(docs)["env"]
    env[:] = [e for e in env if e["name"] != name] + [{"name": name, "value": value}]


def _readiness_on_healthz(d: list[Manifest]) -> None:
    container(d)["readinessProbe"]["httpGet"]["path"] = "/healthz"


def _liveness_on_readyz(d: list[Manifest]) -> None:
    container(d)["livenessProbe"]["httpGet"]["path"] = "/readyz"


def _startup_on_readyz(d: list[Manifest]) -> None:
    container(d)["startupProbe"]["httpGet"]["path"] = "/readyz"  # a ConductorOne outage would restart pods


def _bound_to_loopback(d: list[Manifest]) -> None:
    set_env(d, "BATON_HEALTH_CHECK_BIND_ADDRESS", "127.0.0.1")  # the daemon's default: probes cannot reach it


def _health_server_off(d: list[Manifest]) -> None:
    set_env(d, "BATON_HEALTH_CHECK", "false")


def _probe_on_numeric_wrong_port(d: list[Manifest]) -> None:
    container(d)["livenessProbe"]["httpGet"]["port"] = 8080


def _container_port_moved(d: list[Manifest]) -> None:
    container(d)["ports"][0]["containerPort"] = 9090


def _daemon_port_moved(d: list[Manifest]) -> None:
    set_env(d, "BATON_HEALTH_CHECK_PORT", "9090")


def _no_readiness(d: list[Manifest]) -> None:
    del container(d)["readinessProbe"]


PROBE_MUTATIONS: dict[str, Mutation] = {
    "readiness on /healthz": _readiness_on_healthz,
    "liveness on /readyz": _liveness_on_readyz,
    "startup on /readyz": _startup_on_readyz,
    "health server on loopback": _bound_to_loopback,
    "health server off": _health_server_off,
    "liveness on another port": _probe_on_numeric_wrong_port,
    "container port not the daemon's": _container_port_moved,
    "daemon port moved, probes not": _daemon_port_moved,
    "no readiness probe": _no_readiness,
}


@pytest.mark.parametrize("mutation", list(PROBE_MUTATIONS), ids=list(PROBE_MUTATIONS))
def test_probe_check_bites(mutation: str) -> None:
    docs = deploy_docs()
    assert checks.probe_problems(docs) == []
    PROBE_MUTATIONS[mutation](docs)
    assert checks.probe_problems(docs) != []


def _scraped_on_the_service_port(d: list[Manifest]) -> None:
    (service,) = checks.of_kind(d, "Service")
    service["spec"]["ports"][0]["port"] = 80
    service["metadata"]["annotations"]["prometheus.io/port"] = "80"  # discovery scrapes the pod, not the Service


def _scraped_on_another_path(d: list[Manifest]) -> None:
    (service,) = checks.of_kind(d, "Service")
    service["metadata"]["annotations"]["prometheus.io/path"] = "/healthz"


def _scraped_without_a_port(d: list[Manifest]) -> None:
    (service,) = checks.of_kind(d, "Service")
    del service["metadata"]["annotations"]["prometheus.io/port"]


@pytest.mark.parametrize("mutation", [_scraped_on_the_service_port, _scraped_on_another_path, _scraped_without_a_port])
def test_scrape_annotation_check_bites(mutation: Mutation) -> None:
    docs = deploy_docs()
    assert checks.service_problems(docs) == []
    mutation(docs)
    (problem,) = checks.service_problems(docs)
    assert "annotation prometheus.io/" in problem


def _bogus_env_name(d: list[Manifest]) -> None:
    set_env(d, "BATON_SYNC_SCHEDULE", "true")  # one letter short of BATON_SYNC_SCHEDULES


def _go_sdk_only_name(d: list[Manifest]) -> None:
    set_env(d, "BATON_OTEL_COLLECTOR_ENDPOINT", "otel:4317")  # a Go SDK setting this connector does not have


def _bogus_secret_key(d: list[Manifest]) -> None:
    (secret,) = checks.of_kind(d, "Secret")
    secret["stringData"]["BATON_DATADOG_API_KEY"] = secret["stringData"].pop("BATON_API_KEY")


@pytest.mark.parametrize("mutation", [_bogus_env_name, _go_sdk_only_name, _bogus_secret_key])
def test_setting_name_check_bites(mutation: Mutation) -> None:
    docs = deploy_docs()
    assert checks.unknown_settings(docs) == []
    mutation(docs)
    (problem,) = checks.unknown_settings(docs)
    assert "is not a connector setting" in problem


def test_setting_value_check_bites(clean_baton_env: pytest.MonkeyPatch) -> None:
    docs = deploy_docs()
    set_env(docs, "BATON_TASK_CONCURRENCY", "0")
    for key, value in checks.pod_environment(docs).items():
        clean_baton_env.setenv(key, value)
    with pytest.raises(SettingsError, match="BATON_TASK_CONCURRENCY"):
        load([])


def _writable_root(d: list[Manifest]) -> None:
    container(d)["securityContext"]["readOnlyRootFilesystem"] = False


def _root_user(d: list[Manifest]) -> None:
    container(d)["securityContext"]["runAsUser"] = 0


def _may_escalate(d: list[Manifest]) -> None:
    del container(d)["securityContext"]["allowPrivilegeEscalation"]


def _keeps_capabilities(d: list[Manifest]) -> None:
    container(d)["securityContext"]["capabilities"] = {"drop": ["NET_RAW"]}


def _unconfined(d: list[Manifest]) -> None:
    container(d)["securityContext"]["seccompProfile"] = {"type": "Unconfined"}


def _no_tmp(d: list[Manifest]) -> None:
    container(d)["volumeMounts"] = []


def _host_network(d: list[Manifest]) -> None:
    pod_spec(d)["hostNetwork"] = True


SECURITY_MUTATIONS: dict[str, Mutation] = {
    "writable root filesystem": _writable_root,
    "root user": _root_user,
    "privilege escalation": _may_escalate,
    "capabilities kept": _keeps_capabilities,
    "seccomp unconfined": _unconfined,
    "no /tmp emptyDir": _no_tmp,
    "host network": _host_network,
}


@pytest.mark.parametrize("mutation", list(SECURITY_MUTATIONS), ids=list(SECURITY_MUTATIONS))
def test_security_check_bites(mutation: str) -> None:
    docs = deploy_docs()
    assert checks.security_problems(docs) == []
    SECURITY_MUTATIONS[mutation](docs)
    assert checks.security_problems(docs) != []


def test_lifecycle_checks_bite() -> None:
    docs = deploy_docs()
    pod_spec(docs)["terminationGracePeriodSeconds"] = 25  # not above BATON_SHUTDOWN_GRACE_SECONDS=25
    assert any("terminationGracePeriodSeconds" in p for p in checks.lifecycle_problems(docs))

    docs = deploy_docs()
    set_env(docs, "BATON_HOST_ID", "baton-datadog")  # every replica the same host
    assert any("BATON_HOST_ID" in p for p in checks.lifecycle_problems(docs))


def test_service_and_image_checks_bite() -> None:
    docs = deploy_docs()
    (service,) = checks.of_kind(docs, "Service")
    service["spec"]["ports"][0]["targetPort"] = 8080
    assert checks.service_problems(docs) != []

    docs = deploy_docs()
    container(docs)["image"] = "registry.example.com/security/baton-datadog:latest"
    assert checks.image_problems(docs) != []
    container(docs)["image"] = "registry.example.com/security/baton-datadog"
    assert checks.image_problems(docs) != []


def test_rule_check_bites() -> None:
    rule: Manifest = {
        "spec": {
            "groups": [
                {
                    "rules": [
                        {"alert": "Typo", "expr": "rate(baton_datadog_task_finished_total[5m]) > 0", "labels": {}},
                    ]
                }
            ]
        }
    }
    problems = checks.rule_problems(rule)
    assert any("baton_datadog_task_finished_total" in p for p in problems)
    assert any("severity" in p for p in problems)


# ---- the chart: mutate a copy of the chart itself, render, check ---------------------------------------------


@pytest.fixture
def chart_copy(tmp_path: Path) -> Path:
    tooling.need("helm_python")
    target = tmp_path / "baton-datadog"
    shutil.copytree(chart_tools.CHART, target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def test_chart_with_wrong_readiness_path_fails(chart_copy: Path) -> None:
    _edit(chart_copy / "templates" / "deployment.yaml", "path: /readyz", "path: /ready")
    docs = chart_tools.manifests(chart_tools.render({}, chart=chart_copy))
    assert any("readinessProbe path '/ready'" in p for p in checks.probe_problems(docs))


def test_chart_with_wrong_container_port_fails(chart_copy: Path) -> None:
    _edit(
        chart_copy / "templates" / "deployment.yaml",
        'containerPort: {{ include "baton-datadog.healthPort" . }}',
        "containerPort: 8080",
    )
    docs = chart_tools.manifests(chart_tools.render({}, chart=chart_copy))
    assert checks.probe_problems(docs) != []
    assert checks.service_problems(docs) != []


def test_chart_with_bogus_setting_name_fails(chart_copy: Path) -> None:
    _edit(
        chart_copy / "templates" / "_helpers.tpl",
        "syncSchedules: BATON_SYNC_SCHEDULES",
        "syncSchedules: BATON_SCHEDULES",
    )
    docs = chart_tools.manifests(chart_tools.render({"config": {"syncSchedules": True}}, chart=chart_copy))
    assert checks.unknown_settings(docs) == [
        "BATON_SCHEDULES (set by Deployment/datadog-acme-baton-datadog container connector) is not a connector setting"
    ]


def test_chart_with_writable_root_fails(chart_copy: Path) -> None:
    # The real chart's schema refuses this value (test_chart_values.py); a chart without that guard must still
    # be caught by the check.
    (chart_copy / "values.schema.json").unlink()
    docs = chart_tools.manifests(
        chart_tools.render({"securityContext": {"readOnlyRootFilesystem": False}}, chart=chart_copy)
    )
    assert any("readOnlyRootFilesystem" in p for p in checks.security_problems(docs))


def test_schema_validation_bites() -> None:
    tooling.need("kubernetes_validate")
    docs = deploy_docs()
    container(docs)["livenessProbe"]["httpGett"] = container(docs)["livenessProbe"].pop("httpGet")
    errors, _ = chart_tools.kube_errors(docs, chart_tools.KUBE_VERSIONS[0])
    assert any("httpGett" in e for e in errors)
