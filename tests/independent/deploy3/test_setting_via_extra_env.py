"""A connector setting reaches the pod through `config.<key>` or, when that is null, through an `extraEnv` entry of
its BATON_* name (the chart allows that, values.yaml and NOTES.txt say so). The chart's checks of a setting read
`config.<key>` only: the same value given as an `extraEnv` entry skipped them all, and rendered a pod the
connector refuses at every start (CrashLoopBackOff) or one whose every call times out.

Class guarded: one setting, two inputs, and each check of it reading both. Members: the working directory
(`BATON_C1Z_TEMP_DIR`) and the periodic sync file (`BATON_FILE`), which must be writable in the read-only pod;
the ConductorOne host (`BATON_C1_API_HOST`) and the Datadog root (`BATON_BASE_URL`), whose port the NetworkPolicy
must allow; and the release notes' "Provisioning is ON", which read `config.provisioning` alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from scripts import chart_tools
from tests.deploy import checks, tooling

tooling.need("helm_python")

POLICY = {"networkPolicy": {"enabled": True}}


def env(name: str, value: str) -> dict[str, Any]:
    return {"extraEnv": [{"name": name, "value": value}]}


def rendered_env(values: dict[str, Any]) -> dict[str, str]:
    docs = chart_tools.manifests(chart_tools.render(values))
    (deployment,) = checks.connector_deployments(docs)
    return {e["name"]: e.get("value", "") for e in checks.connector_container(deployment)["env"]}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        # The root filesystem is read-only: nothing can be written outside /tmp and the mounted volumes.
        (
            {"config": {"c1zTempDir": None}, **env("BATON_C1Z_TEMP_DIR", "/var/lib/baton")},
            r"extraEnv BATON_C1Z_TEMP_DIR is /var/lib/baton, which is on the read-only root filesystem",
        ),
        (
            {"config": {"file": None, "syncInterval": 3600}, **env("BATON_FILE", "/data/sync.c1z")},
            r"extraEnv BATON_FILE is in /data, which is on the read-only root filesystem",
        ),
        # /tmp is an emptyDir, empty when the pod starts: config.c1zTempDir: /tmp/baton is refused for that.
        (
            {"config": {"c1zTempDir": None}, **env("BATON_C1Z_TEMP_DIR", "/tmp/baton")},
            r"extraEnv BATON_C1Z_TEMP_DIR is /tmp/baton, which does not exist in the pod",
        ),
        # Relative to the image's working directory, /tmp.
        (
            {"config": {"c1zTempDir": None}, **env("BATON_C1Z_TEMP_DIR", "work")},
            r"extraEnv BATON_C1Z_TEMP_DIR is /tmp/work, which does not exist in the pod",
        ),
        (
            {"config": {"c1zTempDir": None}, **env("BATON_C1Z_TEMP_DIR", "/tmp/../etc")},
            r"extraEnv BATON_C1Z_TEMP_DIR is /etc, which is on the read-only root filesystem",
        ),
    ],
)
def test_a_working_path_given_in_extra_env_is_checked_as_its_config_value(values: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        chart_tools.render(values)


@pytest.mark.parametrize(
    ("values", "what", "port"),
    [
        ({"config": {"c1ApiHost": None}, **env("BATON_C1_API_HOST", "c1.example.com:8443")}, "BATON_C1_API_HOST", 8443),
        ({"config": {"baseUrl": None}, **env("BATON_BASE_URL", "http://dd.example.com:8080")}, "BATON_BASE_URL", 8080),
        # No port: the scheme's (http: 80).
        ({**env("BATON_BASE_URL", "http://dd.example.com")}, "BATON_BASE_URL", 80),
    ],
)
def test_an_endpoint_given_in_extra_env_is_checked_against_the_network_policy(
    values: dict[str, Any], what: str, port: int
) -> None:
    with pytest.raises(Exception, match=f"extraEnv {what} dials port {port}, which the NetworkPolicy does not allow"):
        chart_tools.render({**POLICY, **values})
    # Allowed by a rule, it renders.
    allowed = {"networkPolicy": {"enabled": True, "extraEgress": [{"ports": [{"port": port, "protocol": "TCP"}]}]}}
    assert rendered_env({**values, **allowed})[f"{what}"]


@pytest.mark.parametrize(
    "values",
    [
        {"config": {"c1zTempDir": None}, **env("BATON_C1Z_TEMP_DIR", "/tmp")},
        {"config": {"c1zTempDir": None}, **env("BATON_C1Z_TEMP_DIR", "/tmp/")},
        {"config": {"file": None}, **env("BATON_FILE", "/tmp/out.c1z")},
        {"config": {"file": None}, **env("BATON_FILE", "out.c1z")},
        {**POLICY, **env("BATON_C1_API_HOST", "c1.example.com")},
        {**POLICY, **env("BATON_BASE_URL", "https://api.datadoghq.eu")},
        # A name in lower case is not the setting (the connector reads upper case only; the chart refuses it beside
        # the config value), nor is an entry whose value comes from elsewhere, which the chart cannot see.
        {**POLICY, **env("baton_c1_api_host", "c1.example.com:8443")},
        {
            **POLICY,
            "extraEnv": [
                {"name": "BATON_C1_API_HOST", "valueFrom": {"configMapKeyRef": {"name": "endpoints", "key": "c1"}}}
            ],
        },
    ],
)
def test_settings_the_pod_can_use_render(values: dict[str, Any]) -> None:
    chart_tools.manifests(chart_tools.render(values))


def notes(values: dict[str, Any]) -> str:
    return next(text for path, text in chart_tools.render(values).items() if path.endswith("NOTES.txt"))


@pytest.mark.parametrize(
    ("values", "on"),
    [
        ({"config": {"provisioning": True}}, True),
        ({"config": {"provisioning": False}}, False),
        ({}, False),
        # The same setting in extraEnv, as the connector reads a boolean: the notes said nothing of it.
        (env("BATON_PROVISIONING", "true"), True),
        (env("BATON_PROVISIONING", "Yes"), True),
        (env("BATON_PROVISIONING", "1"), True),
        (env("BATON_PROVISIONING", "false"), False),
    ],
)
def test_the_notes_say_provisioning_is_on_however_values_set_it(values: dict[str, Any], on: bool) -> None:
    assert ("Provisioning is ON" in notes(values)) is on
