"""Probe timings set to null on purpose, e.g. `--set startupProbe.periodSeconds=null` to take Kubernetes' own
default: the probe keeps its path and port and leaves the timing to Kubernetes. With every timing of a probe null
the chart wrote `{}` under `httpGet`, YAML that does not parse, and the render failed with a YAML scanner error
naming neither the value nor the probe."""

from __future__ import annotations

from typing import Any

import pytest

from scripts import chart_tools
from tests.deploy import checks, tooling

tooling.need("helm_python")
tooling.need("kubernetes_validate")

# The timings each probe has in values.yaml, so that null removes them (Helm drops a null over a default).
TIMINGS = {
    "startupProbe": ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold"),
    "livenessProbe": ("periodSeconds", "timeoutSeconds", "failureThreshold"),
    "readinessProbe": ("periodSeconds", "timeoutSeconds", "failureThreshold"),
}
PATHS = {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}


@pytest.mark.parametrize("probe", sorted(TIMINGS))
def test_a_probe_with_every_timing_null_keeps_its_path_and_takes_kubernetes_defaults(probe: str) -> None:
    values: dict[str, Any] = {probe: dict.fromkeys(TIMINGS[probe])}
    docs = chart_tools.manifests(chart_tools.render(values))
    (deployment,) = checks.connector_deployments(docs)
    rendered = checks.connector_container(deployment)[probe]
    assert rendered == {"httpGet": {"path": PATHS[probe], "port": "metrics"}}
    assert checks.probe_problems(docs) == []
    for version in chart_tools.KUBE_VERSIONS:
        assert chart_tools.kube_errors(docs, version)[0] == [], version


def test_one_timing_null_leaves_the_others_as_set() -> None:
    docs = chart_tools.manifests(chart_tools.render({"readinessProbe": {"periodSeconds": None}}))
    (deployment,) = checks.connector_deployments(docs)
    assert checks.connector_container(deployment)["readinessProbe"] == {
        "httpGet": {"path": "/readyz", "port": "metrics"},
        "timeoutSeconds": 3,
        "failureThreshold": 2,
    }


ALL_TIMINGS = ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold", "successThreshold")


@pytest.mark.parametrize("probe", sorted(TIMINGS))
def test_a_timing_values_yaml_lacks_set_to_null_is_left_to_kubernetes_too(probe: str) -> None:
    """Helm drops a null only over a default values.yaml has: `successThreshold: null` (or `initialDelaySeconds` of
    liveness and readiness) reached the schema, which refused it ("got null, want integer"), and with the schema
    loosened the probe rendered `successThreshold: null`."""
    values: dict[str, Any] = {probe: dict.fromkeys(ALL_TIMINGS)}
    docs = chart_tools.manifests(chart_tools.render(values))
    (deployment,) = checks.connector_deployments(docs)
    assert checks.connector_container(deployment)[probe] == {"httpGet": {"path": PATHS[probe], "port": "metrics"}}
    for version in chart_tools.KUBE_VERSIONS:
        assert chart_tools.kube_errors(docs, version)[0] == [], version


def test_a_size_limit_given_as_a_number_is_a_quantity_as_kubernetes_takes_it() -> None:
    """`tmpVolume.sizeLimit: 2147483648` (unquoted, as Kubernetes accepts a quantity, and as `--set` gives it) was
    refused by the schema: "got number, want null or string"."""
    docs = chart_tools.manifests(chart_tools.render({"tmpVolume": {"sizeLimit": 2147483648}}))
    (deployment,) = checks.connector_deployments(docs)
    (tmp,) = [v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == "tmp"]
    assert str(tmp["emptyDir"]["sizeLimit"]) == "2147483648"
    for version in chart_tools.KUBE_VERSIONS:
        assert chart_tools.kube_errors(docs, version)[0] == [], version
