"""The connector writes its working sync files in `config.c1zTempDir` and the periodic sync's file beside
`config.file`, and refuses at start a directory it cannot write (exit 2, at every restart: CrashLoopBackOff). The
pod's root filesystem is read-only, so the chart checks that each is on a volume: it took any path at or under any
mount, whatever the volume. Three kinds rendered a pod that can never start:

- a ConfigMap, Secret, downwardAPI or projected volume: the kubelet mounts those read-only, whatever the mount says;
- a mount with `readOnly: true`, or a persistentVolumeClaim or CSI volume marked `readOnly`;
- a directory below an emptyDir's mount point (`/tmp/work/sub` with an emptyDir on /tmp/work): an emptyDir is empty
  when the pod starts, as /tmp itself is, where `/tmp/baton` was already refused for that.

Class guarded: the working paths are checked against what the pod can write, by the deepest volume holding them.
A directory below a persistent volume's mount point may exist (the volume's business), so it renders.

Review r1203: a directory a subPath mount of the same emptyDir names is there at start (the kubelet makes it), and a
volume's type is a field that is not null (`configMap: null` beside `emptyDir: {}` is an emptyDir): both were refused.
"""

from __future__ import annotations

from typing import Any

import pytest

from scripts import chart_tools
from tests.deploy import tooling

tooling.need("helm_python")


def mounted(volume: dict[str, Any], path: str = "/tmp/work", **mount: Any) -> dict[str, Any]:
    return {
        "extraVolumes": [{"name": "work", **volume}],
        "extraVolumeMounts": [{"name": "work", "mountPath": path, **mount}],
    }


EMPTY: dict[str, Any] = {"emptyDir": {}}
CLAIM: dict[str, Any] = {"persistentVolumeClaim": {"claimName": "baton-work"}}


@pytest.mark.parametrize(
    ("volume", "mount"),
    [
        ({"configMap": {"name": "baton-ca"}}, {}),
        ({"secret": {"secretName": "baton-ca"}}, {}),
        ({"downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}, {}),
        ({"projected": {"sources": [{"configMap": {"name": "baton-ca"}}]}}, {}),
        (EMPTY, {"readOnly": True}),
        (CLAIM, {"readOnly": True}),
        ({"persistentVolumeClaim": {"claimName": "baton-work", "readOnly": True}}, {}),
        ({"csi": {"driver": "secrets-store.csi.k8s.io", "readOnly": True}}, {}),
    ],
)
@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"c1zTempDir": "/tmp/work"}, "config.c1zTempDir is /tmp/work"),
        ({"file": "/tmp/work/sync.c1z", "syncInterval": 3600}, "config.file is in /tmp/work"),
        ({"c1zTempDir": "/tmp/work/sub"}, "config.c1zTempDir is /tmp/work/sub"),
    ],
)
def test_a_working_path_on_a_read_only_volume_is_refused(
    volume: dict[str, Any], mount: dict[str, Any], config: dict[str, Any], named: str
) -> None:
    with pytest.raises(
        Exception, match=named + r", which is on the read-only volume \"work\" \(extraVolumeMounts\[0\]"
    ):
        chart_tools.render({**mounted(volume, **mount), "config": config})


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({**mounted(EMPTY), "config": {"c1zTempDir": "/tmp/work/sub"}}, "config.c1zTempDir is /tmp/work/sub"),
        (
            {**mounted(EMPTY), "config": {"file": "/tmp/work/out/sync.c1z", "syncInterval": 3600}},
            "config.file is in /tmp/work/out",
        ),
        # The chart's own /tmp volume mounted again elsewhere is the same emptyDir.
        (
            {
                "extraVolumeMounts": [{"name": "tmp", "mountPath": "/tmp/again"}],
                "config": {"c1zTempDir": "/tmp/again/x"},
            },
            "config.c1zTempDir is /tmp/again/x",
        ),
    ],
)
def test_a_directory_below_an_empty_dir_mount_is_refused(values: dict[str, Any], named: str) -> None:
    with pytest.raises(Exception, match=named + r", which does not exist in the pod"):
        chart_tools.render(values)


@pytest.mark.parametrize(
    "values",
    [
        {**mounted(EMPTY), "config": {"c1zTempDir": "/tmp/work", "file": "/tmp/work/sync.c1z", "syncInterval": 60}},
        {**mounted(CLAIM), "config": {"c1zTempDir": "/tmp/work/sub"}},  # a persistent volume may hold it
        {
            **mounted(
                {
                    "ephemeral": {
                        "volumeClaimTemplate": {
                            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
                        }
                    }
                }
            ),
            "config": {"c1zTempDir": "/tmp/work"},
        },
        # A read-only volume for the CA bundle beside a writable /tmp: the usual case.
        {**mounted({"configMap": {"name": "baton-ca"}}, "/tmp/ca"), "config": {"caBundle": "/tmp/ca/ca.pem"}},
        {**mounted({"configMap": {"name": "baton-ca"}}, "/etc/baton-ca", readOnly=True)},
        # The deepest volume decides: a writable emptyDir mounted inside a read-only one's path.
        {
            "extraVolumes": [{"name": "ca", "configMap": {"name": "baton-ca"}}, {"name": "work", "emptyDir": {}}],
            "extraVolumeMounts": [
                {"name": "ca", "mountPath": "/tmp/ca"},
                {"name": "work", "mountPath": "/tmp/ca/work"},
            ],
            "config": {"c1zTempDir": "/tmp/ca/work"},
        },
    ],
)
def test_working_paths_on_writable_volumes_render(values: dict[str, Any]) -> None:
    chart_tools.manifests(chart_tools.render(values))


# Review r1203: the kubelet makes the directory a subPath names inside the volume (and those above it) before the
# container starts, so with the emptyDir mounted whole at /tmp/work and again with subPath "cache", /tmp/work/cache
# is there when the pod starts; the chart called it "does not exist in the pod".
def _work_volume_values(mounts: list[dict[str, str]], c1z_temp_dir: str) -> dict[str, object]:
    """Values mounting an emptyDir `work` at each of `mounts` (one naming another volume keeps its name), with the
    c1z temp dir at `c1z_temp_dir`."""
    return {
        "extraVolumes": [{"name": "work", "emptyDir": {}}],
        "extraVolumeMounts": [{"name": "work", **mount} for mount in mounts],
        "config": {"c1zTempDir": c1z_temp_dir},
    }


@pytest.mark.parametrize(
    ("mounts", "c1z_temp_dir"),
    [
        ([{"mountPath": "/tmp/work"}, {"mountPath": "/tmp/cache", "subPath": "cache"}], "/tmp/work/cache"),
        ([{"mountPath": "/tmp/work"}, {"mountPath": "/tmp/cache", "subPath": "a/b"}], "/tmp/work/a"),
        ([{"mountPath": "/tmp/work"}, {"mountPath": "/tmp/cache", "subPath": "a/b"}], "/tmp/work/a/b"),
        # Both with subPath: /tmp/work is the volume's "a", in which the other mount's "a/b" is "b".
        (
            [{"mountPath": "/tmp/work", "subPath": "a"}, {"mountPath": "/tmp/cache", "subPath": "a/b"}],
            "/tmp/work/b",
        ),
        # subPathExpr names a directory the chart cannot know (it expands the pod's variables): it may be any.
        ([{"mountPath": "/tmp/work"}, {"mountPath": "/tmp/cache", "subPathExpr": "$(POD_NAME)"}], "/tmp/work/x"),
    ],
)
def test_a_directory_a_sub_path_mount_makes_in_an_empty_dir_renders(
    mounts: list[dict[str, str]], c1z_temp_dir: str
) -> None:
    values = _work_volume_values(mounts, c1z_temp_dir)
    chart_tools.manifests(chart_tools.render(values))


@pytest.mark.parametrize(
    ("mounts", "c1z_temp_dir"),
    [
        # The subPath's directory is in the volume, not below the subPath mount's own mount point.
        ([{"mountPath": "/tmp/work"}, {"mountPath": "/tmp/cache", "subPath": "cache"}], "/tmp/cache/x"),
        ([{"mountPath": "/tmp/work"}, {"mountPath": "/tmp/cache", "subPath": "cache"}], "/tmp/work/cachex"),
        # Another volume's subPath makes nothing in this one.
        ([{"mountPath": "/tmp/work"}, {"name": "tmp", "mountPath": "/tmp/cache", "subPath": "c"}], "/tmp/work/c"),
        # Outside the "a" the first mount shows.
        (
            [{"mountPath": "/tmp/work", "subPath": "a"}, {"mountPath": "/tmp/cache", "subPath": "b"}],
            "/tmp/work/b",
        ),
    ],
)
def test_a_directory_no_sub_path_makes_in_an_empty_dir_is_still_refused(
    mounts: list[dict[str, str]], c1z_temp_dir: str
) -> None:
    values = _work_volume_values(mounts, c1z_temp_dir)
    with pytest.raises(Exception, match=f"config.c1zTempDir is {c1z_temp_dir}, which does not exist in the pod"):
        chart_tools.render(values)


# Review r1203: a null field beside a volume's type is what tools that fill every field write, and the API server
# drops it; the chart read `configMap: null` beside `emptyDir: {}` as a configMap volume, read-only.
@pytest.mark.parametrize("null_type", ["configMap", "secret", "downwardAPI", "projected", "hostPath"])
def test_a_null_type_field_does_not_change_the_volume(null_type: str) -> None:
    chart_tools.manifests(
        chart_tools.render({**mounted({**EMPTY, null_type: None}), "config": {"c1zTempDir": "/tmp/work"}})
    )


def test_a_null_empty_dir_field_does_not_make_a_claim_empty() -> None:
    """`emptyDir: null` beside a persistentVolumeClaim: the claim may hold the directory."""
    chart_tools.manifests(
        chart_tools.render({**mounted({**CLAIM, "emptyDir": None}), "config": {"c1zTempDir": "/tmp/work/sub"}})
    )


@pytest.mark.parametrize(
    "values",
    [
        # A PVC for the c1z under /tmp.
        {
            **mounted(CLAIM, "/tmp/data"),
            "config": {"file": "/tmp/data/sync.c1z", "syncInterval": 3600, "c1zTempDir": "/tmp/data/work"},
        },
        # An emptyDir mounted with subPath as the temp dir.
        {**mounted(EMPTY, subPath="w"), "config": {"c1zTempDir": "/tmp/work"}},
        # Relative paths through extraEnv, config null: read from the image's WORKDIR, /tmp.
        {
            "config": {"file": None, "c1zTempDir": None},
            "extraEnv": [{"name": "BATON_FILE", "value": "sync.c1z"}, {"name": "BATON_C1Z_TEMP_DIR", "value": "."}],
        },
        # A PVC outside /tmp through extraEnv.
        {
            **mounted(CLAIM, "/data"),
            "config": {"file": None},
            "extraEnv": [{"name": "BATON_FILE", "value": "/data/s.c1z"}],
        },
    ],
)
def test_ordinary_deployments_render(values: dict[str, Any]) -> None:
    chart_tools.manifests(chart_tools.render(values))
