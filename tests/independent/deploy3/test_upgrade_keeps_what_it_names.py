"""Helm deletes at an upgrade every object the release had and no longer renders. `existingSecret` stops the chart
rendering its own Secret, and the natural name to give it, switching from `secret.*` to a Secret managed outside the
chart, is the one `kubectl get secrets` shows: the release's own `<release>-baton-datadog`. The upgrade rendered no
Secret, so Helm deleted it: the credentials were gone from the cluster, and every pod started after that (a restart,
a node drain) stayed in CreateContainerConfigError, its Secret not found.

Class guarded: a value naming the object the chart makes when the value is unset is checked against "this release
made it" (Helm's `meta.helm.sh/release-name` and `-namespace` annotations, read with `lookup` at an upgrade) and
"Helm would delete it" (no `helm.sh/resource-policy: keep`), and refused then, naming what Helm would do. An object
of that name made by anyone else is taken as before, and so is any other name (review r1203: a renamed copy of the
chart's Secret, a parent chart's, an ExternalSecret's target, each carrying this release's annotations, was refused
at every upgrade, though Helm deletes none of them). The other member,
`serviceAccount.name` with `create: false` naming the release's own ServiceAccount, is left: Helm's `lookup` fails
the whole render on a Forbidden, and `create: false` is what an installer that may not touch ServiceAccounts sets.
"""

from __future__ import annotations

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
CANARY = "canary-key-value-9b2d"


@pytest.fixture
def cluster() -> Iterator[kubeapi.KubeApi]:
    with kubeapi.running() as api:
        yield api


def upgrade(api: kubeapi.KubeApi, values: dict[str, Any], *, is_upgrade: bool = True) -> dict[str, str]:
    config = helm_python.Config(kube_apiserver=api.url, namespace=NAMESPACE)
    with config, helm_python.Chart.load(str(chart_tools.CHART)) as chart:
        rendered: dict[str, str] = config.render(
            chart, json.loads(json.dumps(values)), name=RELEASE, namespace=NAMESPACE, is_upgrade=is_upgrade
        )
    return rendered


def test_existing_secret_naming_the_releases_own_secret_is_refused(cluster: kubeapi.KubeApi) -> None:
    cluster.put_secret(NAMESPACE, NAME, {"BATON_API_KEY": CANARY}, OURS)
    with pytest.raises(Exception, match=f'existingSecret names the Secret "{NAME}", which this release made') as raised:
        upgrade(cluster, {"existingSecret": NAME})
    assert CANARY not in str(raised.value)


@pytest.mark.parametrize(
    "annotations",
    [
        {},  # made by hand
        {"meta.helm.sh/release-name": "another", "meta.helm.sh/release-namespace": NAMESPACE},
        {"meta.helm.sh/release-name": RELEASE, "meta.helm.sh/release-namespace": "elsewhere"},
    ],
)
def test_objects_of_that_name_made_by_others_are_taken(cluster: kubeapi.KubeApi, annotations: dict[str, str]) -> None:
    cluster.put_secret(NAMESPACE, NAME, {"BATON_API_KEY": CANARY}, annotations)
    docs = chart_tools.manifests(upgrade(cluster, {"existingSecret": NAME}))
    assert not [d for d in docs if d["kind"] == "Secret"]


def test_at_an_install_nothing_is_deleted_and_a_leftover_is_taken(cluster: kubeapi.KubeApi) -> None:
    """A Secret left by an earlier release of this name (Helm's annotations on it) is no object of a release's
    manifest at an install: nothing deletes it, and existingSecret may name it."""
    cluster.put_secret(NAMESPACE, NAME, {"BATON_API_KEY": CANARY}, OURS)
    chart_tools.manifests(upgrade(cluster, {"existingSecret": NAME}, is_upgrade=False))


def test_still_rendered_the_releases_own_objects_are_fine(cluster: kubeapi.KubeApi) -> None:
    """The chart's own Secret, still made by it, is not "named" by a value."""
    cluster.put_secret(NAMESPACE, NAME, {}, OURS)
    docs = chart_tools.manifests(upgrade(cluster, {}))
    assert "Secret" in {d["kind"] for d in docs}


def test_without_a_cluster_nothing_is_known_and_it_renders() -> None:
    chart_tools.manifests(chart_tools.render({"existingSecret": NAME}))


@pytest.mark.parametrize(
    "name",
    [
        # A renamed copy of the chart's Secret (`kubectl get secret -o yaml`, the name edited): Helm's annotations
        # came along.
        f"{RELEASE}-datadog-credentials",
        # A parent chart's Secret, or the target of an ExternalSecret the release renders (External Secrets copies
        # the ExternalSecret's annotations, Helm's among them): the release still renders it, Helm deletes nothing.
        "baton-datadog-secrets",
    ],
)
def test_a_secret_of_another_name_with_this_releases_annotations_is_taken(cluster: kubeapi.KubeApi, name: str) -> None:
    """Helm deletes at the upgrade only what the release rendered before and no longer renders; of the Secrets, the
    chart only ever renders `<fullname>`. Any other name, whatever its annotations, is not deleted by this upgrade:
    it was refused at every upgrade."""
    cluster.put_secret(NAMESPACE, name, {"BATON_API_KEY": CANARY}, OURS)
    docs = chart_tools.manifests(upgrade(cluster, {"existingSecret": name}))
    assert not [d for d in docs if d["kind"] == "Secret"]


def test_the_releases_own_secret_kept_by_its_resource_policy_is_taken(cluster: kubeapi.KubeApi) -> None:
    """`helm.sh/resource-policy: keep` (secret.annotations) tells Helm never to delete the Secret, at an upgrade
    that stops rendering it too: "Helm would delete it" is false there, and it was refused."""
    cluster.put_secret(NAMESPACE, NAME, {"BATON_API_KEY": CANARY}, {**OURS, "helm.sh/resource-policy": "keep"})
    docs = chart_tools.manifests(upgrade(cluster, {"existingSecret": NAME}))
    assert not [d for d in docs if d["kind"] == "Secret"]


@pytest.mark.parametrize("controller", [True, "true"])
def test_a_secret_a_controller_owns_is_taken(cluster: kubeapi.KubeApi, controller: object) -> None:
    """External Secrets copies its ExternalSecret's annotations, Helm's included, onto the Secret it makes: an umbrella
    release holding this chart and an ExternalSecret whose target is `<release>-baton-datadog` made a Secret that
    looked like the chart's own, and every upgrade was refused though the chart never rendered it (review r1208)."""
    cluster.put_secret(NAMESPACE, NAME, {"BATON_API_KEY": CANARY}, OURS)
    metadata = cluster.secrets[(NAMESPACE, NAME)]["metadata"]
    metadata["ownerReferences"] = [
        {
            "apiVersion": "external-secrets.io/v1beta1",
            "kind": "ExternalSecret",
            "name": "baton-creds",
            "uid": "3f0c0d8e-0000-0000-0000-000000000001",
            "controller": controller,
        }
    ]
    docs = chart_tools.manifests(upgrade(cluster, {"existingSecret": NAME}))
    assert not [d for d in docs if d["kind"] == "Secret"]


def test_an_owner_that_is_no_controller_does_not_take_it(cluster: kubeapi.KubeApi) -> None:
    """Only a controller's ownership says the chart never rendered it; any owner reference alone says nothing."""
    cluster.put_secret(NAMESPACE, NAME, {"BATON_API_KEY": CANARY}, OURS)
    metadata = cluster.secrets[(NAMESPACE, NAME)]["metadata"]
    metadata["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "u"}]
    with pytest.raises(Exception, match="which this release made"):
        upgrade(cluster, {"existingSecret": NAME})
