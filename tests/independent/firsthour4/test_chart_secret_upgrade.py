"""`helm upgrade -f acme.yaml` where acme.yaml holds no `secret.*` keys (they were given once, with `--set-file` at
install, as docs/deployment.md suggests, and are not in the file kept in git). The chart-made Secret was rendered
from the values alone, so the upgrade emptied it: the keys were gone from the cluster and the pods it rolled exited
at start. Now each key not given is kept from this release's Secret (`lookup`). Rendered by the real Helm engine
(helm_python) against a Kubernetes API server on 127.0.0.1 that holds the release's Secret."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from scripts import chart_tools
from tests.deploy import tooling
from tests.independent.firsthour4 import kubeapi

helm_python = tooling.need("helm_python")

RELEASE = chart_tools.RELEASE
NAMESPACE = chart_tools.NAMESPACE
NAME = f"{RELEASE}-baton-datadog"
OURS = {"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": NAMESPACE}
# Canaries: none of them may appear in the release notes.
KEYS = {
    "clientId": ("BATON_CLIENT_ID", "canary-client-id-7d1e"),
    "clientSecret": ("BATON_CLIENT_SECRET", "canary-client-secret-c0ffee"),
    "apiKey": ("BATON_API_KEY", "a" * 31 + "1"),
    "appKey": ("BATON_APP_KEY", "b" * 39 + "2"),
}
ACME = {"image": {"repository": "registry.example.com/security/baton-datadog", "tag": "0.1.0"}}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def installed_data() -> dict[str, str]:
    return {env: b64(value) for env, value in KEYS.values()}


@pytest.fixture
def cluster() -> Iterator[kubeapi.KubeApi]:
    with kubeapi.running() as api:
        yield api


def upgrade(api: kubeapi.KubeApi, values: dict[str, Any]) -> dict[str, str]:
    """The render of `helm upgrade` against the cluster: `lookup` reads it."""
    config = helm_python.Config(kube_apiserver=api.url, namespace=NAMESPACE)
    with config, helm_python.Chart.load(str(chart_tools.CHART)) as chart:
        rendered: dict[str, str] = config.render(
            chart, json.loads(json.dumps(values)), name=RELEASE, namespace=NAMESPACE, is_upgrade=True
        )
    return rendered


def secret_and_checksum(rendered: dict[str, str]) -> tuple[dict[str, str], str]:
    docs = chart_tools.manifests(rendered)
    (secret,) = [d for d in docs if d["kind"] == "Secret"]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    checksum = deployment["spec"]["template"]["metadata"]["annotations"]["checksum/secret"]
    return secret.get("data") or {}, checksum


def notes(rendered: dict[str, str]) -> str:
    return next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))


def test_an_upgrade_without_the_secret_values_keeps_the_keys_and_does_not_roll_the_pods(
    cluster: kubeapi.KubeApi,
) -> None:
    cluster.put_secret(NAMESPACE, NAME, installed_data(), OURS)
    given = {**ACME, "secret": {key: value for key, (_, value) in KEYS.items()}}
    data_given, checksum_given = secret_and_checksum(upgrade(cluster, given))

    data_kept, checksum_kept = secret_and_checksum(upgrade(cluster, ACME))

    assert data_kept == installed_data() == data_given
    assert checksum_kept == checksum_given  # the same Secret: the upgrade rolls no pod for it
    assert f"/api/v1/namespaces/{NAMESPACE}/secrets/{NAME}" in cluster.paths


def test_a_key_given_replaces_that_key_alone(cluster: kubeapi.KubeApi) -> None:
    cluster.put_secret(NAMESPACE, NAME, installed_data(), OURS)
    data, _ = secret_and_checksum(upgrade(cluster, {**ACME, "secret": {"apiKey": "c" * 32}}))
    assert data == {**installed_data(), "BATON_API_KEY": b64("c" * 32)}


def test_the_notes_name_the_kept_keys_and_warn_of_nothing_missing(cluster: kubeapi.KubeApi) -> None:
    cluster.put_secret(NAMESPACE, NAME, installed_data(), OURS)
    text = notes(upgrade(cluster, {**ACME, "secret": {"clientId": KEYS["clientId"][1]}}))
    assert "credentials are missing" not in text
    assert "Kept from this release's Secret" in text
    assert "BATON_API_KEY, BATON_APP_KEY, BATON_CLIENT_SECRET" in text
    for _, value in KEYS.values():
        assert value not in text
        assert b64(value) not in text


def test_only_what_the_old_secret_held_is_kept_and_the_notes_name_the_rest_missing(cluster: kubeapi.KubeApi) -> None:
    cluster.put_secret(NAMESPACE, NAME, {"BATON_API_KEY": b64(KEYS["apiKey"][1])}, OURS)
    rendered = upgrade(cluster, ACME)
    data, _ = secret_and_checksum(rendered)
    assert data == {"BATON_API_KEY": b64(KEYS["apiKey"][1])}
    assert "credentials are missing" in notes(rendered)


@pytest.mark.parametrize(
    "annotations",
    [
        {},
        {"meta.helm.sh/release-name": "datadog-beta", "meta.helm.sh/release-namespace": NAMESPACE},
        {"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": "other"},
    ],
    ids=["no-helm-owner", "another-release", "another-namespace"],
)
def test_a_secret_of_that_name_not_this_releases_is_never_copied(
    cluster: kubeapi.KubeApi, annotations: dict[str, str]
) -> None:
    cluster.put_secret(NAMESPACE, NAME, installed_data(), annotations)
    data, _ = secret_and_checksum(upgrade(cluster, ACME))
    assert data == {}


def test_without_a_cluster_the_secret_is_the_values_alone_as_before() -> None:
    """`helm template` (and so GitOps tools that render with it) and a client-side --dry-run see no cluster."""
    data, _ = secret_and_checksum(chart_tools.render(ACME))
    assert data == {}
    data, _ = secret_and_checksum(chart_tools.render({**ACME, "secret": {"appKey": KEYS["appKey"][1]}}))
    assert data == {"BATON_APP_KEY": b64(KEYS["appKey"][1])}


def test_with_existing_secret_of_another_name_no_secret_is_looked_up(cluster: kubeapi.KubeApi) -> None:
    cluster.put_secret(NAMESPACE, NAME, installed_data(), OURS)
    rendered = upgrade(cluster, {**ACME, "existingSecret": "baton-datadog-secrets"})
    assert [d for d in chart_tools.manifests(rendered) if d["kind"] == "Secret"] == []
    # Neither the release's own Secret nor existingSecret's is read: only existingSecret naming the chart's own
    # Secret is looked up, for its annotations (tests/independent/deploy3/test_upgrade_keeps_what_it_names.py).
    assert [path for path in cluster.paths if "/secrets/" in path] == []


def test_with_existing_secret_naming_the_charts_own_only_its_annotations_are_looked_up(
    cluster: kubeapi.KubeApi,
) -> None:
    """A Secret made by hand under the chart's own name is taken, and nothing but it is read."""
    cluster.put_secret(NAMESPACE, NAME, installed_data(), {})
    rendered = upgrade(cluster, {**ACME, "existingSecret": NAME})
    assert [d for d in chart_tools.manifests(rendered) if d["kind"] == "Secret"] == []
    assert [path for path in cluster.paths if "/secrets/" in path] == [f"/api/v1/namespaces/{NAMESPACE}/secrets/{NAME}"]


def test_a_key_an_extra_env_from_source_holds_is_not_kept(cluster: kubeapi.KubeApi) -> None:
    """The Datadog keys moved to a Secret of the operator's own (`extraEnvFrom`), given no more as secret.*: the
    chart's Secret comes after it in envFrom, so an old key kept there won, and the pods failed once it was revoked."""
    cluster.put_secret(NAMESPACE, NAME, installed_data(), OURS)
    rotated = {"BATON_API_KEY": b64("c" * 32), "BATON_APP_KEY": b64("d" * 40)}
    cluster.put_secret(NAMESPACE, "dd-rotated", rotated, {})
    rendered = upgrade(cluster, {**ACME, "extraEnvFrom": [{"secretRef": {"name": "dd-rotated"}}]})
    data, _ = secret_and_checksum(rendered)
    assert data == {env: value for env, value in installed_data().items() if env not in rotated}
    assert "credentials are missing" not in notes(rendered)  # they are in dd-rotated and the chart's Secret


def test_keys_moved_to_an_extra_env_from_secret_are_not_called_missing(cluster: kubeapi.KubeApi) -> None:
    """The chart's Secret empty, all four keys in the operator's own Secret: NOTES warned "credentials are missing"."""
    cluster.put_secret(NAMESPACE, "dd-all", installed_data(), {})
    rendered = upgrade(cluster, {**ACME, "extraEnvFrom": [{"secretRef": {"name": "dd-all"}}]})
    assert secret_and_checksum(rendered)[0] == {}
    assert "credentials are missing" not in notes(rendered)


@pytest.mark.parametrize("kind", ["Secret", "ConfigMap"])
def test_beside_an_extra_env_from_source_of_settings_the_keys_are_kept(cluster: kubeapi.KubeApi, kind: str) -> None:
    """ConductorOne's setup page puts BATON_SITE, BATON_PROVISIONING and BATON_SYNC_SCHEDULES in a source of their own
    (values.yaml): beside it the keys are kept, or the upgrade emptied them again and the pods exited."""
    cluster.put_secret(NAMESPACE, NAME, installed_data(), OURS)
    # An empty placeholder of a key beside the settings is no key: dropping the kept one for it left the pod none.
    settings = {"BATON_SITE": "datadoghq.eu", "BATON_PROVISIONING": "true", "BATON_API_KEY": ""}
    if kind == "Secret":
        cluster.put_secret(NAMESPACE, "c1-setup", {k: b64(v) for k, v in settings.items()}, {})
        source: dict[str, Any] = {"secretRef": {"name": "c1-setup"}}
    else:
        cluster.put_config_map(NAMESPACE, "c1-setup", settings)
        source = {"configMapRef": {"name": "c1-setup"}}
    data, _ = secret_and_checksum(upgrade(cluster, {**ACME, "extraEnvFrom": [source]}))
    assert data == installed_data()


def test_a_prefixed_extra_env_from_source_hides_only_the_names_it_makes(cluster: kubeapi.KubeApi) -> None:
    """envFrom's `prefix` makes BATON_ + API_KEY of a key named API_KEY."""
    cluster.put_secret(NAMESPACE, NAME, installed_data(), OURS)
    cluster.put_secret(NAMESPACE, "dd-keys", {"API_KEY": b64("c" * 32)}, {})
    source = {"prefix": "BATON_", "secretRef": {"name": "dd-keys"}}
    data, _ = secret_and_checksum(upgrade(cluster, {**ACME, "extraEnvFrom": [source]}))
    assert data == {env: value for env, value in installed_data().items() if env != "BATON_API_KEY"}


def test_a_key_an_extra_env_entry_sets_is_not_kept(cluster: kubeapi.KubeApi) -> None:
    """`env` beats `envFrom`: a kept copy of BATON_API_KEY beside an extraEnv entry of that name is dead, and the
    notes listed it as kept and as coming from extraEnv at once."""
    cluster.put_secret(NAMESPACE, NAME, installed_data(), OURS)
    from_secret = {"valueFrom": {"secretKeyRef": {"name": "dd-keys", "key": "api-key"}}}
    rendered = upgrade(cluster, {**ACME, "extraEnv": [{"name": "BATON_API_KEY", **from_secret}]})
    data, _ = secret_and_checksum(rendered)
    assert data == {env: value for env, value in installed_data().items() if env != "BATON_API_KEY"}
    assert "BATON_APP_KEY, BATON_CLIENT_ID, BATON_CLIENT_SECRET." in notes(rendered)
