"""A file the connector reads at start, named in values: `config.caBundle` (or `BATON_CA_BUNDLE` in `extraEnv`),
`BATON_CONFIG_PATH` and `SSL_CERT_FILE` in `extraEnv`. The connector refuses one that is not there at every start
(exit 2: CrashLoopBackOff). Below an emptyDir's mount point, /tmp's included, nothing is there when the pod starts,
and a relative path is read from the image's working directory, /tmp: `caBundle: /tmp/ca.pem` without a volume
mounted for it, or `caBundle: ca.pem`, rendered a pod that never starts. The working paths were already checked that
way (test_working_dir_writable.py); the files read are the other members of the class.

Class guarded: each path values hand the connector is checked against the pod's volumes by the deepest mount holding
it. A file on the read-only root filesystem may be the image's own (its CA bundle), and a volume other than an
emptyDir may hold any path, so those render.

Review r1203: `GRPC_DEFAULT_SSL_ROOTS_FILE_PATH` (a file) and `SSL_CERT_DIR` (a list of directories) are read at start
too (connector/baton/netenv.py), and were not checked; the chart's list is now netenv's, which a test walks.
"""

from __future__ import annotations

from typing import Any

import pytest

from connector.baton import netenv
from scripts import chart_tools
from tests.deploy import tooling

tooling.need("helm_python")

CA_MAP = {
    "extraVolumes": [{"name": "ca", "configMap": {"name": "baton-ca"}}],
    "extraVolumeMounts": [{"name": "ca", "mountPath": "/tmp/ca", "readOnly": True}],
}
SCRATCH = {
    "extraVolumes": [{"name": "scratch", "emptyDir": {}}],
    "extraVolumeMounts": [{"name": "scratch", "mountPath": "/tmp/scratch"}],
}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"config": {"caBundle": "/tmp/ca.pem"}}, "config.caBundle is /tmp/ca.pem"),
        ({"config": {"caBundle": "ca.pem"}}, "config.caBundle is /tmp/ca.pem"),
        ({**SCRATCH, "config": {"caBundle": "/tmp/scratch/ca.pem"}}, "config.caBundle is /tmp/scratch/ca.pem"),
        (
            {"extraEnv": [{"name": "BATON_CA_BUNDLE", "value": "/tmp/ca.pem"}]},
            "extraEnv BATON_CA_BUNDLE is /tmp/ca.pem",
        ),
        (
            {"extraEnv": [{"name": "BATON_CONFIG_PATH", "value": "/tmp/baton.yaml"}]},
            "extraEnv BATON_CONFIG_PATH is /tmp/baton.yaml",
        ),
        ({"extraEnv": [{"name": "SSL_CERT_FILE", "value": "corp.pem"}]}, "extraEnv SSL_CERT_FILE is /tmp/corp.pem"),
    ],
)
def test_a_file_read_at_start_below_an_empty_dir_is_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message + r", which does not exist in the pod: /tmp(/scratch)? is an emptyDir"):
        chart_tools.render(values)


@pytest.mark.parametrize(
    "values",
    [
        {**CA_MAP, "config": {"caBundle": "/tmp/ca/ca.pem"}},
        {**CA_MAP, "extraEnv": [{"name": "BATON_CONFIG_PATH", "value": "/tmp/ca/baton.yaml"}]},
        {**CA_MAP, "extraEnv": [{"name": "SSL_CERT_FILE", "value": "/tmp/ca/ca.pem"}]},
        # One file of a ConfigMap mounted read-only into /tmp with subPath: the mount point is the file.
        {
            "extraVolumes": [{"name": "ca", "configMap": {"name": "baton-ca"}}],
            "extraVolumeMounts": [{"name": "ca", "mountPath": "/tmp/ca.pem", "subPath": "ca.pem", "readOnly": True}],
            "config": {"caBundle": "/tmp/ca.pem"},
        },
        # The image's own bundle, on the read-only root.
        {"config": {"caBundle": "/etc/ssl/certs/ca-certificates.crt"}},
        # From a reference the chart cannot see.
        {"extraEnv": [{"name": "BATON_CONFIG_PATH", "valueFrom": {"configMapKeyRef": {"name": "p", "key": "k"}}}]},
    ],
)
def test_files_a_volume_can_hold_render(values: dict[str, Any]) -> None:
    chart_tools.manifests(chart_tools.render(values))


# Review r1203: GRPC_DEFAULT_SSL_ROOTS_FILE_PATH and SSL_CERT_DIR are read at start as SSL_CERT_FILE is
# (connector/baton/netenv.py refuses one that is not there), and the chart checked SSL_CERT_FILE alone.
@pytest.mark.parametrize("name", netenv._PATH_VARIABLES)
def test_every_tls_path_the_connector_checks_at_start_is_checked(name: str) -> None:
    """One list each side: every variable netenv.py refuses when its path is not there, below an emptyDir."""
    with pytest.raises(Exception, match=f"extraEnv {name} is /tmp/scratch/roots, which does not exist in the pod"):
        chart_tools.render({**SCRATCH, "extraEnv": [{"name": name, "value": "/tmp/scratch/roots"}]})


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("/tmp/certs", "/tmp/certs"),
        ("certs", "/tmp/certs"),
        # A list, as OpenSSL reads it: each directory in it must be there.
        ("/etc/ssl/certs:/tmp/certs", "/tmp/certs"),
    ],
)
def test_an_ssl_cert_dir_below_an_empty_dir_is_refused(value: str, named: str) -> None:
    with pytest.raises(Exception, match=f"extraEnv SSL_CERT_DIR is {named}, which does not exist in the pod"):
        chart_tools.render({"extraEnv": [{"name": "SSL_CERT_DIR", "value": value}]})


@pytest.mark.parametrize(
    "values",
    [
        {**CA_MAP, "extraEnv": [{"name": "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "value": "/tmp/ca/ca.pem"}]},
        {**CA_MAP, "extraEnv": [{"name": "SSL_CERT_DIR", "value": "/tmp/ca"}]},
        {**CA_MAP, "extraEnv": [{"name": "SSL_CERT_DIR", "value": "/etc/ssl/certs:/tmp/ca:"}]},
        # An emptyDir's mount point is a directory that is there (empty: OpenSSL finds nothing in it, and the
        # connector takes it).
        {**SCRATCH, "extraEnv": [{"name": "SSL_CERT_DIR", "value": "/tmp/scratch"}]},
        {"extraEnv": [{"name": "SSL_CERT_DIR", "value": "/etc/ssl/certs"}]},
    ],
)
def test_tls_paths_a_volume_can_hold_render(values: dict[str, Any]) -> None:
    chart_tools.manifests(chart_tools.render(values))
