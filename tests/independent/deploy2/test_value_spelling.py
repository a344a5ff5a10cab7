"""Keys a user spells another way and values typed the way `helm --set-string` types them (every value a string):
a key the chart does not know, or a value of the wrong type, is refused with a message naming it, never ignored
(issue 9 §1: a value the user set must win; one silently dropped would leave the Secret deciding unnoticed)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from scripts import chart_tools
from scripts.chart_tools import CHART
from tests.deploy import checks, tooling

tooling.need("helm_python")

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
# The settings (chart 0.1.0's names of two of them are in the schema untyped, only to be refused by the chart).
CONFIG = {key: value for key, value in SCHEMA["properties"]["config"]["properties"].items() if "type" in value}


def types(key: str) -> set[str]:
    declared = CONFIG[key]["type"]
    return {declared} if isinstance(declared, str) else set(declared)


@pytest.mark.parametrize(
    ("values", "where", "key"),
    [
        ({"config": {"apiKey": "x"}}, "/config", "apiKey"),  # a credential is secret.apiKey
        ({"config": {"api_key": "x"}}, "/config", "api_key"),
        ({"config": {"Site": "datadoghq.eu"}}, "/config", "Site"),  # another letter case
        ({"config": {"sync_schedules": True}}, "/config", "sync_schedules"),  # the variable's spelling
        ({"config": {"BATON_SITE": "datadoghq.eu"}}, "/config", "BATON_SITE"),
        ({"confg": {"site": "datadoghq.eu"}}, "", "confg"),  # a typo of a section
        ({"secret": {"api_key": "x"}}, "/secret", "api_key"),
        ({"existingsecret": "baton-datadog-secrets"}, "", "existingsecret"),
    ],
)
def test_a_key_the_chart_does_not_know_is_refused_by_name(values: dict[str, Any], where: str, key: str) -> None:
    with pytest.raises(Exception, match=f"at '{where}': additional properties '{key}' not allowed"):
        chart_tools.render(values)


@pytest.mark.parametrize("key", sorted(k for k in CONFIG if "string" not in types(k)))
def test_set_string_on_a_setting_that_is_not_text_is_refused_by_name(key: str) -> None:
    """`--set-string config.provisioning=true` gives "true": refused at the key, not rendered as some other value."""
    text = {"boolean": "true", "integer": "5", "number": "0.5", "array": "user"}[
        next(t for t in sorted(types(key)) if t != "null")
    ]
    with pytest.raises(Exception, match=f"at '/config/{key}': got string"):
        chart_tools.render({"existingSecret": "baton-datadog-secrets", "config": {key: text}})


@pytest.mark.parametrize("key", ["c1ApiHost", "logLevel", "site", "healthCheckBindAddress"])
def test_set_string_on_a_text_setting_reaches_the_pod_as_written(key: str) -> None:
    text = {"c1ApiHost": "1234", "logLevel": "debug", "site": "datadoghq.eu", "healthCheckBindAddress": "::"}[key]
    docs = chart_tools.manifests(chart_tools.render({"existingSecret": "s", "config": {key: text}}))
    (deployment,) = checks.connector_deployments(docs)
    env = checks.plain_env(checks.connector_container(deployment))
    assert text in env.values()
