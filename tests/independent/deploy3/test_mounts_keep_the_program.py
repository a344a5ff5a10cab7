"""`extraVolumeMounts` may mount anywhere in the container: on `/`, on `/opt` or `/opt/venv` (where the image keeps the
connector and its dependencies), inside the venv, or on the interpreter's and libc's directories (`/usr/local/lib`,
`/usr/lib`, `/lib`, ...). Each hides what the image put there, and the container cannot start at all ("exec:
baton-datadog: no such file", or Python without its standard library): a CrashLoopBackOff with no line from the
connector, for a mount meant for a CA bundle or a config file. The chart rendered every one.

Class guarded: a mount that hides the image's program (the venv, the interpreter, the C library) is refused, naming
the mount. A mount beside them (`/etc/baton`, `/var/run/baton`, `/usr/local/share/ca-certificates`) renders.
"""

from __future__ import annotations

import pytest

from scripts import chart_tools
from tests.deploy import tooling

tooling.need("helm_python")


def mounting(path: str) -> dict[str, object]:
    return {
        "extraVolumes": [{"name": "ca", "configMap": {"name": "baton-ca"}}],
        "extraVolumeMounts": [{"name": "ca", "mountPath": path, "readOnly": True}],
    }


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/opt",
        "/opt/",
        "/opt/venv",
        "/opt/venv/lib",
        "/opt/venv/bin/",
        "/usr",
        "/usr/local",
        "/usr/local/lib",
        "/usr/local/bin",
        "/usr/lib",
        "/usr/bin",
        "/lib",
        "/bin",
        "//opt//venv",
    ],
)
def test_a_mount_hiding_the_program_is_refused(path: str) -> None:
    with pytest.raises(Exception, match=r"extraVolumeMounts\[0\] mounts on /[a-z/]*, which hides the image's"):
        chart_tools.render(mounting(path))


@pytest.mark.parametrize(
    "path",
    ["/etc/baton", "/var/run/baton", "/usr/local/share/ca-certificates", "/etc/ssl/certs", "/optional", "/tmp/ca"],
)
def test_a_mount_beside_the_program_renders(path: str) -> None:
    chart_tools.manifests(chart_tools.render(mounting(path)))
