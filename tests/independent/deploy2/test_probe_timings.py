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
