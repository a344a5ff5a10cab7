"""`helm upgrade -f` with a values file kept from chart 0.1.0 (commit b0ce8fc: `helm show values` of that chart, or
the docs of then), the upgrade docs/deployment.md describes ("Upgrading"). Chart 0.2.0 renamed two `config` values
and dropped the probes' `path`: each is refused naming what it is now, where the schema's refusal of an unknown key
said only "additional properties not allowed". Chart 0.1.0's defaults for `config.c1ApiHost` and `config.baseUrl`
were "", which the connector reads as not set: they are left out, as an empty `logFormat` is, not refused."""

from __future__ import annotations

from typing import Any

import pytest

from scripts import chart_tools
from tests.deploy import checks, tooling

tooling.need("helm_python")

SECRET = "baton-datadog-secrets"


def pod_env(values: dict[str, Any]) -> dict[str, str]:
    docs = chart_tools.manifests(chart_tools.render({"existingSecret": SECRET, **values}))
    (deployment,) = checks.connector_deployments(docs)
    return checks.plain_env(checks.connector_container(deployment))


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [("healthPort", "healthCheckPort", 9090), ("healthBindAddress", "healthCheckBindAddress", "0.0.0.0")],
)
def test_a_config_value_renamed_since_chart_0_1_0_is_refused_naming_its_new_key(old: str, new: str, value: Any) -> None:
    with pytest.raises(Exception, match=f"config.{old} is chart 0.1.0's name: since chart 0.2.0 it is config.{new}"):
        chart_tools.render({"existingSecret": SECRET, "config": {old: value}})


@pytest.mark.parametrize(
    ("probe", "path"), [("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]
)
def test_a_probe_path_of_chart_0_1_0_is_refused_saying_the_paths_are_the_daemons(probe: str, path: str) -> None:
    with pytest.raises(Exception, match=rf"{probe}.path is a value of chart 0.1.0: .*the daemon's own paths"):
        chart_tools.render({"existingSecret": SECRET, probe: {"enabled": True, "path": path}})


def test_the_renamed_values_under_their_new_names_reach_the_pod() -> None:
    env = pod_env({"config": {"healthCheckPort": 9090, "healthCheckBindAddress": "::"}})
    assert env["BATON_HEALTH_CHECK_PORT"] == "9090"
    assert env["BATON_HEALTH_CHECK_BIND_ADDRESS"] == "::"


def test_chart_0_1_0_empty_defaults_are_not_set_rather_than_refused() -> None:
    env = pod_env({"config": {"c1ApiHost": "", "baseUrl": ""}})
    assert "BATON_C1_API_HOST" not in env
    assert "BATON_BASE_URL" not in env


@pytest.mark.parametrize(("key", "value"), [("c1ApiHost", "https://x.example"), ("baseUrl", "api.datadoghq.com")])
def test_a_value_the_connector_refuses_is_still_refused_beside_the_empty_default(key: str, value: str) -> None:
    with pytest.raises(Exception, match=f"/config/{key}"):
        chart_tools.render({"existingSecret": SECRET, "config": {key: value}})
