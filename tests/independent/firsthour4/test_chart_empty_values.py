"""`""` in a values file, Helm's usual "not set" (and chart 0.1.0's own default for `config.c1ApiHost` and
`config.baseUrl`): the connector reads an empty variable as not set (README, "An empty value ... means not set"),
and the chart leaves "" out of the pod (templates/_helpers.tpl, configEnv). Yet the schema refused it for
`config.caBundle` ("minLength: got 0, want 1"), `config.site` and `config.logLevel` ("value must be one of"),
where it accepted it for `logFormat`, `c1ApiHost` and `baseUrl`. The three whose "" would hand the pod's writable
paths or its probed bind address to a Secret or to the connector's cwd and loopback defaults are still refused."""

from __future__ import annotations

from typing import Any

import pytest

from scripts import chart_tools
from tests.deploy import checks, tooling

tooling.need("helm_python")

SECRET = "baton-datadog-secrets"


def pod_env(config: dict[str, Any]) -> dict[str, str]:
    docs = chart_tools.manifests(chart_tools.render({"existingSecret": SECRET, "config": config}))
    (deployment,) = checks.connector_deployments(docs)
    return checks.plain_env(checks.connector_container(deployment))


@pytest.mark.parametrize(
    ("key", "env"), [("caBundle", "BATON_CA_BUNDLE"), ("site", "BATON_SITE"), ("logLevel", "BATON_LOG_LEVEL")]
)
def test_an_empty_text_setting_is_not_set_so_the_secret_decides(key: str, env: str) -> None:
    assert env not in pod_env({key: ""})
    assert pod_env({key: ""}) == pod_env({key: None})


@pytest.mark.parametrize(("key", "value"), [("site", "datadoghq.example"), ("logLevel", "verbose")])
def test_a_wrong_value_beside_the_empty_one_is_still_refused(key: str, value: str) -> None:
    with pytest.raises(Exception, match=f"/config/{key}"):
        chart_tools.render({"existingSecret": SECRET, "config": {key: value}})


@pytest.mark.parametrize("key", ["file", "c1zTempDir", "healthCheckBindAddress"])
def test_an_empty_path_or_bind_address_the_pod_is_built_on_is_refused(key: str) -> None:
    with pytest.raises(Exception, match=f"/config/{key}"):
        chart_tools.render({"existingSecret": SECRET, "config": {key: ""}})
