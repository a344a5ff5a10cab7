"""Every value of values.yaml set to null, one at a time and a whole section at once (`--set x=null`, or a values
file that blanks a section to take "the defaults"): Helm then drops the chart's default, so each template sees the
value missing. Either the render refuses it with a message naming the value, or it gives manifests that parse and a
pod Kubernetes can create: each volume with a source, each probe with its check. Two did neither: every probe
timing null wrote `{}` under `httpGet` (no YAML), and `tmpVolume.sizeLimit: null` a volume without a source.

tests/independent/deploy (NULL_MEANS_NOT_SET) names the single values that must be refused; this sweeps them all.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from scripts import chart_tools
from scripts.chart_tools import CHART, MONITORING_API
from tests.deploy import checks, tooling

tooling.need("helm_python")

DEFAULTS: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
# Everything optional switched on, so that each template reads its values.
ON = {
    "serviceMonitor": {"enabled": True},
    "prometheusRule": {"enabled": True},
    "dashboard": {"enabled": True},
    "podDisruptionBudget": {"enabled": True},
    "networkPolicy": {"enabled": True},
}
VOLUME_SOURCES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)


def leaves(node: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for key, value in node.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, (*path, key))
        yield (*path, key)


def nulled(node: dict[str, Any]) -> dict[str, Any]:
    return {k: nulled(v) if isinstance(v, dict) and v else None for k, v in node.items()}


def pod_problems(docs: list[dict[str, Any]]) -> list[str]:
    problems = []
    for where, spec in checks.pod_specs(docs):
        for volume in spec.get("volumes") or []:
            sources = [k for k in volume if k != "name" and volume[k] is not None]
            if len(sources) != 1 or sources[0] not in VOLUME_SOURCES:
                problems.append(f"{where}: volume {volume.get('name')!r} has sources {sources}")
        for container in checks.containers(spec):
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                if probe in container and not (container[probe] or {}).get("httpGet"):
                    problems.append(f"{where}: {probe} checks nothing: {container[probe]!r}")
    return problems


def outcome(values: dict[str, Any], names: tuple[str, ...]) -> None:
    refusal = ""
    try:
        rendered = chart_tools.render(values, api_versions=[MONITORING_API])
    except Exception as refused:  # helm's error: the schema's or the chart's own `fail`
        refusal = str(refused)
    if refusal:
        assert any(name in refusal for name in names), refusal
        return
    docs = chart_tools.manifests(rendered)  # raises if a template wrote YAML that does not parse
    assert checks.connector_deployments(docs)
    assert pod_problems(docs) == []


# The connector settings one by one are tests/independent/deploy's (null is "not set" there, and rendered nowhere).
LEAVES = [path for path in leaves(DEFAULTS) if path[0] != "config"]


@pytest.mark.parametrize("path", LEAVES, ids=".".join)
def test_a_value_set_to_null_is_refused_by_name_or_renders_a_pod_kubernetes_creates(path: tuple[str, ...]) -> None:
    values: dict[str, Any] = copy.deepcopy(ON)
    node = values
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = None
    outcome(values, path)


SECTIONS = sorted(k for k, v in DEFAULTS.items() if isinstance(v, dict) and v)


@pytest.mark.parametrize("section", SECTIONS)
def test_a_section_with_every_value_null_is_refused_by_name_or_renders_a_pod_kubernetes_creates(section: str) -> None:
    blank = nulled(DEFAULTS[section])
    if "enabled" in blank:
        blank["enabled"] = True  # blanked, not switched off
    values: dict[str, Any] = copy.deepcopy(ON)
    values[section] = {**values.get(section, {}), **blank}
    outcome(values, (section, *blank))


def test_the_pod_check_bites() -> None:
    docs = chart_tools.manifests(chart_tools.render({}))
    (deployment,) = checks.connector_deployments(docs)
    spec = deployment["spec"]["template"]["spec"]
    spec["volumes"][0]["emptyDir"] = None
    checks.connector_container(deployment)["readinessProbe"] = {"periodSeconds": 5}
    problems = pod_problems(docs)
    assert any("volume 'tmp' has sources []" in p for p in problems), problems
    assert any("readinessProbe checks nothing" in p for p in problems), problems
