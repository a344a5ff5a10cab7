"""The pod's /tmp as Kubernetes would run it (issue 5: "an `emptyDir` for `/tmp`", "/tmp the only writable path it
needs"): the c1z working files go to BATON_C1Z_TEMP_DIR on that emptyDir, so the volume the chart renders must be
one the API server takes and one a sync can fill without the pod being evicted or OOM-killed first.

A second independent suite beside tests/independent/deploy (other cases, same tooling); skipped like it without
the tooling.
"""

from __future__ import annotations

from typing import Any

import pytest

from scripts import chart_tools
from tests.deploy import checks, tooling

tooling.need("helm_python")

Manifest = dict[str, Any]


def tmp_volume(values: dict[str, Any]) -> Manifest:
    docs = chart_tools.manifests(chart_tools.render(values))
    (deployment,) = checks.connector_deployments(docs)
    spec = deployment["spec"]["template"]["spec"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == "tmp"]
    env = checks.plain_env(checks.connector_container(deployment))
    assert env["BATON_C1Z_TEMP_DIR"] == "/tmp"
    found: Manifest = volume
    return found


def test_the_default_tmp_is_a_sized_empty_dir_on_the_node_disk() -> None:
    assert tmp_volume({}) == {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}}


@pytest.mark.parametrize("medium", ["", None])
def test_no_size_limit_is_an_unbounded_empty_dir_not_a_volume_without_a_type(medium: str | None) -> None:
    """`sizeLimit: null` reads as "no limit" (the schema takes null). It rendered `emptyDir:` with nothing under it,
    which is YAML null: the API server then finds no volume source ("must specify a volume type") and refuses the
    Deployment at install, though kubernetes-validate's schema passes it."""
    volume = tmp_volume({"tmpVolume": {"sizeLimit": None, "medium": medium}})
    assert volume == {"name": "tmp", "emptyDir": {}}


@pytest.mark.parametrize("size", ["0", "0Gi", "0.0Mi", "000"])
def test_a_size_limit_of_zero_is_refused_by_name(size: str) -> None:
    """A zero limit lets the kubelet evict the pod at the first working file written to /tmp, i.e. at every sync."""
    with pytest.raises(Exception, match=r"tmpVolume\.sizeLimit is 0"):
        tmp_volume({"tmpVolume": {"sizeLimit": size}})


@pytest.mark.parametrize(
    ("tmp", "limit"),
    [
        ({"medium": "Memory", "sizeLimit": "2Gi"}, "1Gi"),  # the defaults with only the medium changed
        ({"medium": "Memory", "sizeLimit": "1Gi"}, "1Gi"),  # nothing left for the process itself
        ({"medium": "Memory", "sizeLimit": "1500M"}, "1Gi"),
        ({"medium": "Memory", "sizeLimit": None}, "1Gi"),  # a tmpfs as large as the node's memory
    ],
)
def test_a_memory_backed_tmp_the_memory_limit_cannot_hold_is_refused(tmp: dict[str, Any], limit: str) -> None:
    """values.yaml: Memory "counts against the memory limit". Working files past the limit get the container
    OOM-killed mid-sync (a restart loop, no "disk full" the connector could report) before the tmpfs is full."""
    values = {"tmpVolume": tmp, "resources": {"limits": {"memory": limit}}}
    with pytest.raises(Exception, match=r"tmpVolume\.medium is Memory") as raised:
        tmp_volume(values)
    assert "resources.limits.memory" in str(raised.value)


def test_a_memory_backed_tmp_below_the_memory_limit_renders() -> None:
    values = {"tmpVolume": {"medium": "Memory", "sizeLimit": "512Mi"}, "resources": {"limits": {"memory": "1Gi"}}}
    assert tmp_volume(values) == {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "512Mi"}}


def test_a_memory_backed_tmp_needs_a_size_even_without_a_memory_limit() -> None:
    values = {"tmpVolume": {"medium": "Memory", "sizeLimit": None}, "resources": {"limits": None}}
    with pytest.raises(Exception, match=r"tmpVolume\.medium is Memory"):
        tmp_volume(values)
    values = {"tmpVolume": {"medium": "Memory", "sizeLimit": "512Mi"}, "resources": {"limits": None}}
    assert tmp_volume(values)["emptyDir"] == {"medium": "Memory", "sizeLimit": "512Mi"}
