"""The chart's rule for credentials is that they reach the pod from a Secret only: a plain `extraEnv` value of
BATON_API_KEY was already refused ("in clear text in the Deployment"). Two other ways put a secret where whoever may
read ConfigMaps or pods reads it (the built-in `view` role reads ConfigMaps and pods, never Secrets), and both
rendered without a word:

- an `extraEnv` entry of a secret setting whose `valueFrom` is not a `secretKeyRef`: a `configMapKeyRef` (the key
  sits in a ConfigMap), a `fieldRef` (in the pod's own annotations or labels, copied into every ReplicaSet);
- an `extraEnvFrom` `configMapRef` whose ConfigMap, as the cluster has it (Helm's `lookup` at install and upgrade),
  holds one of those settings.

Class guarded: every way values can wire a secret setting into the pod is checked against "from a Secret". The
secret settings are the connector's own (its `SecretStr` fields, `connector.daemon.settings.SECRETS`): the client id
is no secret, and a ConfigMap may hold it. No refusal quotes the value.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from connector.daemon.settings import ENV_PREFIX, SECRETS
from scripts import chart_tools
from tests.deploy import tooling
from tests.independent.firsthour4 import kubeapi

helm_python = tooling.need("helm_python")

SECRET_ENVS = sorted(ENV_PREFIX + name.upper() for name in SECRETS)
CANARY = "canary-secret-value-5e1f"


def test_the_secret_settings_are_the_three_credentials() -> None:
    """What the chart treats as a secret setting below is what the connector redacts."""
    assert SECRET_ENVS == ["BATON_API_KEY", "BATON_APP_KEY", "BATON_CLIENT_SECRET"]


@pytest.mark.parametrize("name", SECRET_ENVS)
@pytest.mark.parametrize(
    ("value_from", "source"),
    [
        ({"configMapKeyRef": {"name": "baton-settings", "key": "k"}}, "configMapKeyRef"),
        ({"fieldRef": {"fieldPath": "metadata.annotations['dd-key']"}}, "fieldRef"),
        ({"resourceFieldRef": {"resource": "limits.memory"}}, "resourceFieldRef"),
    ],
)
def test_a_secret_setting_from_anything_but_a_secret_key_ref_is_refused(
    name: str, value_from: dict[str, Any], source: str
) -> None:
    values = {"extraEnv": [{"name": name, "valueFrom": value_from}], "podAnnotations": {"dd-key": CANARY}}
    with pytest.raises(Exception, match=f"extraEnv takes {name} from valueFrom.{source}, not from a Secret") as raised:
        chart_tools.render(values)
    assert CANARY not in str(raised.value)


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "BATON_API_KEY", "valueFrom": {"secretKeyRef": {"name": "dd", "key": "api"}}},
        # An empty value beside the reference is what tools that fill every field write.
        {"name": "BATON_APP_KEY", "value": "", "valueFrom": {"secretKeyRef": {"name": "dd", "key": "app"}}},
        # Not a secret: the client id may come from a ConfigMap.
        {"name": "BATON_CLIENT_ID", "valueFrom": {"configMapKeyRef": {"name": "baton-settings", "key": "id"}}},
        {"name": "BATON_SITE", "valueFrom": {"configMapKeyRef": {"name": "baton-settings", "key": "site"}}},
    ],
)
def test_references_that_keep_secrets_in_secrets_render(entry: dict[str, Any]) -> None:
    chart_tools.manifests(chart_tools.render({"extraEnv": [entry]}))


# ---- extraEnvFrom: a ConfigMap as the cluster has it ------------------------------------------------------------

RELEASE = chart_tools.RELEASE
NAMESPACE = chart_tools.NAMESPACE


@pytest.fixture
def cluster() -> Iterator[kubeapi.KubeApi]:
    with kubeapi.running() as api:
        yield api


def render_against(api: kubeapi.KubeApi, values: dict[str, Any]) -> dict[str, str]:
    """The render of `helm install` against the cluster: `lookup` reads it."""
    config = helm_python.Config(kube_apiserver=api.url, namespace=NAMESPACE)
    with config, helm_python.Chart.load(str(chart_tools.CHART)) as chart:
        rendered: dict[str, str] = config.render(
            chart, json.loads(json.dumps(values)), name=RELEASE, namespace=NAMESPACE
        )
    return rendered


def from_config_map(prefix: str = "") -> dict[str, Any]:
    source: dict[str, Any] = {"configMapRef": {"name": "baton-settings"}}
    if prefix:
        source["prefix"] = prefix
    return {"extraEnvFrom": [source], "existingSecret": "baton-datadog-secrets"}


@pytest.mark.parametrize(
    ("held", "prefix", "named"),
    [
        ("BATON_CLIENT_SECRET", "", "BATON_CLIENT_SECRET"),
        ("BATON_API_KEY", "", "BATON_API_KEY"),
        ("APP_KEY", "BATON_", "BATON_APP_KEY"),  # the name the pod sees is the prefix and the key
    ],
)
def test_an_extra_env_from_config_map_holding_a_secret_setting_is_refused(
    cluster: kubeapi.KubeApi, held: str, prefix: str, named: str
) -> None:
    cluster.put_config_map(NAMESPACE, "baton-settings", {"BATON_SITE": "datadoghq.eu", held: CANARY})
    with pytest.raises(
        Exception, match=rf"extraEnvFrom\[0\] reads the ConfigMap \"baton-settings\", which holds {named}"
    ) as raised:
        render_against(cluster, from_config_map(prefix))
    assert CANARY not in str(raised.value)
    assert base64.b64encode(CANARY.encode()).decode() not in str(raised.value)


@pytest.mark.parametrize(
    "data",
    [
        {"BATON_SITE": "datadoghq.eu", "BATON_CLIENT_ID": "acme@acme.conductor.one/pcc"},
        {"BATON_API_KEY": ""},  # empty: the connector reads it as not set, and it holds nothing
        {"baton_api_key": CANARY},  # not a setting: the connector reads upper-case names only
    ],
)
def test_an_extra_env_from_config_map_of_settings_renders(cluster: kubeapi.KubeApi, data: dict[str, str]) -> None:
    cluster.put_config_map(NAMESPACE, "baton-settings", data)
    chart_tools.manifests(render_against(cluster, from_config_map()))


def test_without_a_cluster_the_config_map_is_not_seen() -> None:
    chart_tools.manifests(chart_tools.render(from_config_map()))
