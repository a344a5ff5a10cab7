"""What the API server, the kubelet and the container runtime make of the values, where the chart's checks read the
values as text (review r1206 of fix1203, 43aad223..49f661a5; each test failed on 49f661a5).

- A volume with no type left (`{name: work}`, or `emptyDir: null`, what YAML's `emptyDir:` with no value is) is an
  emptyDir: the API server drops the null, finds no volume source, and SetDefaults_Volume makes it `emptyDir: {}`.
  fix1203 ignored null type fields, so the volume had no type and passed as a writable non-empty volume: a working
  directory or a CA file below its mount point, and a subPath of it on site-packages, rendered.
- A one-file subPath mount inside the program's paths may replace a data file (certifi's cacert.pem), never what the
  program runs from: the venv's interpreter link and entrypoint, its pyvenv.cfg, the dynamic loader (refused without
  subPath, rendered with it).
- A relative mountPath (runc refuses it: "mount destination ... not absolute", the pod never starts) and a mountPath
  with `..` segments (runc resolves it component by component through merged-usr's links: /lib64/../local/lib is
  /usr/local/lib, while a text clean makes it /local/lib) are refused, naming the entry.
- A directory the runtime makes as another mount's mount point (runc MkdirAll's the destination) is there at start:
  SSL_CERT_DIR=/tmp/certs with a ConfigMap mounted on /tmp/certs/corp was refused as missing.
"""

from __future__ import annotations

from typing import Any

import pytest

from scripts import chart_tools
from tests.deploy import tooling

tooling.need("helm_python")

HIDES = r"extraVolumeMounts\[0\] mounts on /[-a-z0-9/._]*, which hides the image's"
DEFAULTED = [{"emptyDir": None}, {}, {"emptyDir": None, "configMap": None}]
DEFAULTED_IDS = ["emptyDir-null", "no-source", "all-null"]


@pytest.mark.parametrize("source", DEFAULTED, ids=DEFAULTED_IDS)
@pytest.mark.parametrize(
    ("extra", "refusal"),
    [
        ({"config": {"caBundle": "/tmp/work/ca.pem"}}, "does not exist in the pod"),
        ({"config": {"c1zTempDir": "/tmp/work/sub"}}, "does not exist in the pod"),
        ({"extraEnv": [{"name": "SSL_CERT_DIR", "value": "/tmp/work/certs"}]}, "does not exist in the pod"),
    ],
    ids=["caBundle", "c1zTempDir", "SSL_CERT_DIR"],
)
def test_a_volume_defaulted_to_empty_dir_is_an_empty_dir(
    source: dict[str, Any], extra: dict[str, Any], refusal: str
) -> None:
    """Below the mount point of a volume the API server defaults to `emptyDir: {}` nothing is there at start."""
    values = {
        "extraVolumes": [{"name": "work", **source}],
        "extraVolumeMounts": [{"name": "work", "mountPath": "/tmp/work"}],
        **extra,
    }
    with pytest.raises(Exception, match=refusal):
        chart_tools.render(values)


@pytest.mark.parametrize("source", DEFAULTED, ids=DEFAULTED_IDS)
def test_a_defaulted_empty_dir_is_writable_where_mounted(source: dict[str, Any]) -> None:
    """Its mount point itself is there and writable: the working directory may be it."""
    values = {
        "extraVolumes": [{"name": "work", **source}],
        "extraVolumeMounts": [{"name": "work", "mountPath": "/var/baton"}],
        "config": {"c1zTempDir": None},
        "extraEnv": [{"name": "BATON_C1Z_TEMP_DIR", "value": "/var/baton"}],
    }
    chart_tools.manifests(chart_tools.render(values))


@pytest.mark.parametrize("source", DEFAULTED, ids=DEFAULTED_IDS)
def test_a_sub_path_of_a_defaulted_empty_dir_on_site_packages_is_refused(source: dict[str, Any]) -> None:
    """The kubelet makes the subPath an empty directory: site-packages hidden, "No module named 'connector'"."""
    values = {
        "extraVolumes": [{"name": "work", **source}],
        "extraVolumeMounts": [{"name": "work", "mountPath": "/opt/venv/lib/python3.11/site-packages", "subPath": "x"}],
    }
    with pytest.raises(Exception, match=HIDES):
        chart_tools.render(values)


def one_file(path: str) -> dict[str, Any]:
    return {
        "extraVolumes": [{"name": "ca", "configMap": {"name": "corp-ca"}}],
        "extraVolumeMounts": [{"name": "ca", "mountPath": path, "subPath": "ca.pem", "readOnly": True}],
    }


@pytest.mark.parametrize(
    "path",
    [
        # The venv's interpreter link, its entrypoint, and what makes it a venv.
        "/opt/venv/bin/python",
        "/opt/venv/bin/python3",
        "/opt/venv/bin/baton-datadog",
        "/opt/venv/pyvenv.cfg",
        # The dynamic loader on amd64 (merged-usr: /lib64 is /usr/lib64), the one thing /usr/lib64 is listed for.
        "/lib64/ld-linux-x86-64.so.2",
        "/usr/lib64/ld-linux-x86-64.so.2",
        "/usr/lib/ld-linux-aarch64.so.1",
        # The standard library, the official image's and Debian's (`make image`).
        "/usr/local/lib/python3.11/ssl.py",
        "/usr/local/lib/python3.11/lib-dynload/_ssl.cpython-311-x86_64-linux-gnu.so",
        "/usr/lib/python3.11/ssl.py",
        # The C library and the libraries Python's modules load.
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/x86_64-linux-gnu/libssl.so.3",
        "/usr/lib/aarch64-linux-gnu/libcrypto.so.3",
        # Code below site-packages: a package's modules and extension modules, and the top level (.pth files).
        "/opt/venv/lib/python3.11/site-packages/connector/__init__.py",
        "/opt/venv/lib/python3.11/site-packages/certifi/core.py",
        "/opt/venv/lib/python3.11/site-packages/certifi/__pycache__/core.cpython-311.pyc",
        "/opt/venv/lib/python3.11/site-packages/grpc/_cython/cygrpc.cpython-311-x86_64-linux-gnu.so",
        "/opt/venv/lib/python3.11/site-packages/distutils-precedence.pth",
        "/opt/venv/lib/python3.11/site-packages/typing_extensions.py",
    ],
)
def test_a_one_file_mount_replacing_the_program_itself_is_refused(path: str) -> None:
    """A one-file subPath mount inside the program's paths must not replace what the program runs from."""
    with pytest.raises(Exception, match=HIDES):
        chart_tools.render(one_file(path))


@pytest.mark.parametrize(
    "path",
    [
        "/opt/venv/lib/python3.11/site-packages/certifi/cacert.pem",
        "/opt/venv/lib/python3.11/site-packages/certifi/py.typed",
        "/usr/lib/x86_64-linux-gnu/ossl-modules/extra.cnf",
    ],
)
def test_a_one_file_mount_of_a_data_file_renders(path: str) -> None:
    """A data file below a package of site-packages (certifi's bundle) hides that file only."""
    chart_tools.manifests(chart_tools.render(one_file(path)))


@pytest.mark.parametrize(
    "path",
    [
        "usr/local/lib",
        "opt/venv",
        "etc/baton",
        "/lib64/../local/lib",
        "/bin/../local/lib/python3.11",
        "/etc/baton/..",
        "/tmp/../etc/baton",
    ],
)
def test_a_mount_path_the_runtime_reads_otherwise_is_refused(path: str) -> None:
    """Relative: runc refuses it and the pod never starts. With '..': runc resolves it through merged-usr's links, so
    the chart cannot say where it lands."""
    values = {
        "extraVolumes": [{"name": "ca", "configMap": {"name": "corp-ca"}}],
        "extraVolumeMounts": [{"name": "ca", "mountPath": path, "readOnly": True}],
    }
    with pytest.raises(Exception, match=r"extraVolumeMounts\[0\] mountPath"):
        chart_tools.render(values)


@pytest.mark.parametrize("path", ["/etc/baton", "/etc/baton/", "/etc//baton", "/etc/./baton", "/etc/baton..d"])
def test_an_absolute_mount_path_without_parent_segments_renders(path: str) -> None:
    values = {
        "extraVolumes": [{"name": "ca", "configMap": {"name": "corp-ca"}}],
        "extraVolumeMounts": [{"name": "ca", "mountPath": path, "readOnly": True}],
    }
    chart_tools.manifests(chart_tools.render(values))


@pytest.mark.parametrize("value", ["/tmp/certs", "/etc/ssl/certs:/tmp/certs", "/tmp/certs/corp"])
def test_a_directory_made_as_a_mount_point_counts_as_there(value: str) -> None:
    """runc makes a mount point's directories (MkdirAll) in the /tmp emptyDir: /tmp/certs is there at start, and
    netenv takes it (is_dir). Also as one directory of a list."""
    values = {
        "extraVolumes": [{"name": "ca", "configMap": {"name": "corp-ca"}}],
        "extraVolumeMounts": [{"name": "ca", "mountPath": "/tmp/certs/corp", "readOnly": True}],
        "extraEnv": [{"name": "SSL_CERT_DIR", "value": value}],
    }
    chart_tools.manifests(chart_tools.render(values))


def test_a_working_directory_made_as_a_mount_point_is_refused_as_not_writable() -> None:
    """The runtime makes a mount point's directories as root, mode 0755: there at start, but the connector (UID
    65532) cannot write it, and refuses it at every start."""
    values = {
        "extraVolumes": [{"name": "ca", "configMap": {"name": "corp-ca"}}],
        "extraVolumeMounts": [{"name": "ca", "mountPath": "/tmp/certs/corp", "readOnly": True}],
        "config": {"c1zTempDir": "/tmp/certs"},
    }
    with pytest.raises(Exception, match=r"config.c1zTempDir is /tmp/certs, which the container runtime makes"):
        chart_tools.render(values)
