"""`extraVolumeMounts` may mount anywhere in the container: on `/`, on `/opt` or `/opt/venv` (where the image keeps the
connector and its dependencies), inside the venv, or on the interpreter's and libc's directories (`/usr/local/lib`,
`/usr/lib`, `/lib`, ...). Each hides what the image put there, and the container cannot start at all ("exec:
baton-datadog: no such file", or Python without its standard library): a CrashLoopBackOff with no line from the
connector, for a mount meant for a CA bundle or a config file. The chart rendered every one.

Class guarded: a mount that hides the image's program (the venv, the interpreter and its standard library, the C
library and the dynamic loader: a mount on one, above one or inside one of those directories) is refused, naming the
mount. A mount beside them (`/etc/baton`, `/var/run/baton`, `/usr/local/share/ca-certificates`) renders, and so does
a mount with subPath inside one of them that may be one file (certifi's bundle replaced): it hides that file only.

Review r1203 found the list one-sided: inside the venv was refused, inside /usr/local/lib/python3.11 or
/usr/lib/x86_64-linux-gnu, and /lib64 (the loader), were not; and a one-file subPath mount inside the venv was
refused as "the container could not start".

Review r1206 found it one-sided again: a one-file subPath mount could replace what the program runs from (the venv's
python and entrypoint, pyvenv.cfg, the loader), now refused (tests in test_what_the_runtime_makes.py); and the list
had only the official base image's interpreter, not Debian's /usr/bin/python3 and /usr/lib/python3.11 of the image
`make image` builds.
"""

from __future__ import annotations

import re

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
        "/lib",
        "//opt//venv",
        # The interpreter's standard library, and inside it (python: "No module named 'encodings'").
        "/usr/local/lib/python3.11",
        "/usr/local/lib/python3.11/encodings",
        "/usr/local/lib/python3.11/site-packages",
        # The C library, and the dynamic loader (/lib64/ld-linux-x86-64.so.2; merged-usr Debian links /lib64 to
        # /usr/lib64 and /lib to /usr/lib, and the runtime mounts through those links).
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu/openssl",
        "/lib/x86_64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib64/ld-linux-x86-64.so.2",
        # The interpreter itself, and the venv's link to it.
        "/usr/local/bin/python3.11",
        "/usr/local/bin/python3",
        # The image `make image` builds has Debian's own python3: the interpreter in /usr/bin (/bin through
        # merged-usr), its standard library in /usr/lib/python3.11 (review r1206: these rendered).
        "/usr/bin",
        "/bin",
        "/usr/bin/python3",
        "/usr/bin/python3.11",
        "/usr/lib/python3.11",
        "/usr/lib/python3.11/encodings",
        "/lib/python3.11",
    ],
)
def test_a_mount_hiding_the_program_is_refused(path: str) -> None:
    with pytest.raises(Exception, match=r"extraVolumeMounts\[0\] mounts on /[-a-z0-9/._]*, which hides the image's"):
        chart_tools.render(mounting(path))


@pytest.mark.parametrize(
    "path",
    [
        "/etc/baton",
        "/var/run/baton",
        "/usr/local/share/ca-certificates",
        "/etc/ssl/certs",
        "/optional",
        "/tmp/ca",
        # Beside the interpreter's and the C library's directories, not in one: nothing the program reads.
        "/usr/local/lib/baton",
        "/usr/local/lib/python3.110",
        "/usr/lib/baton",
        "/usr/local/bin/baton",
        "/usr/lib/python3",
        "/usr/lib/python3.110",
        "/usr/bin/baton",
    ],
)
def test_a_mount_beside_the_program_renders(path: str) -> None:
    chart_tools.manifests(chart_tools.render(mounting(path)))


def one_file(path: str, volume: dict[str, object]) -> dict[str, object]:
    return {
        "extraVolumes": [{"name": "ca", **volume}],
        "extraVolumeMounts": [{"name": "ca", "mountPath": path, "subPath": "ca.pem", "readOnly": True}],
    }


@pytest.mark.parametrize(
    "path",
    [
        # certifi's bundle replaced by the corporate one: it hides that one file and nothing the program needs.
        "/opt/venv/lib/python3.11/site-packages/certifi/cacert.pem",
        "/usr/lib/x86_64-linux-gnu/ossl-modules/extra.cnf",
    ],
)
@pytest.mark.parametrize(
    "volume",
    [
        {"configMap": {"name": "corp-ca"}},
        {"secret": {"secretName": "corp-ca"}},
        {"projected": {"sources": [{"configMap": {"name": "corp-ca"}}]}},
        {"persistentVolumeClaim": {"claimName": "corp-ca"}},  # may be a file: the chart cannot tell
    ],
)
def test_a_sub_path_mount_that_may_be_one_file_inside_the_program_renders(path: str, volume: dict[str, object]) -> None:
    """A mount with subPath puts the one entry it names at its path: inside a directory of the program that hides
    only what was at that path. Refused as "the container could not start"."""
    chart_tools.manifests(chart_tools.render(one_file(path, volume)))


@pytest.mark.parametrize(
    ("path", "volume"),
    [
        # An emptyDir's subPath is a directory the kubelet makes: site-packages hidden by an empty one.
        ("/opt/venv/lib/python3.11/site-packages", {"emptyDir": {}}),
        ("/opt/venv/lib/python3.11/site-packages/certifi", {"emptyDir": {}}),
        # One file ON a directory of the program, or on the interpreter, hides it just the same.
        ("/opt/venv", {"configMap": {"name": "corp-ca"}}),
        ("/usr/local/lib/python3.11", {"configMap": {"name": "corp-ca"}}),
        ("/usr/local/bin/python3.11", {"configMap": {"name": "corp-ca"}}),
        ("/opt", {"configMap": {"name": "corp-ca"}}),
    ],
)
def test_a_sub_path_mount_hiding_a_directory_of_the_program_is_refused(path: str, volume: dict[str, object]) -> None:
    with pytest.raises(Exception, match=r"extraVolumeMounts\[0\] mounts on /[-a-z0-9/._]*, which hides the image's"):
        chart_tools.render(one_file(path, volume))


# The Python of each Debian release `make image` may build its base from (Debian's own python3 package).
DEBIAN_PYTHON = {"bookworm": "3.11"}


def test_the_program_paths_are_the_images() -> None:
    """The chart names the interpreter's paths by its version, for both images: the Dockerfile's base (the official
    python image: /usr/local) and the one `make image` builds offline (scripts/deploy_image.py: Debian's python3 in
    /usr/bin, its standard library in /usr/lib). Review r1206: the list had the official image's only."""
    helpers = (chart_tools.CHART / "templates" / "_helpers.tpl").read_text()
    dockerfile = (chart_tools.ROOT / "Dockerfile").read_text()
    version = re.search(r"^ARG PYTHON_IMAGE=\S*python:(\d+\.\d+)\.", dockerfile, re.MULTILINE)
    assert version is not None
    for path in (f"/usr/local/bin/python{version[1]}:", f"/usr/local/lib/python{version[1]}:"):
        assert path in helpers
    assert "bookworm" in dockerfile  # merged-usr Debian: /lib, /lib64 and /bin link into /usr
    # The venv's site-packages, where a one-file mount of a data file is taken, is of the same version.
    assert f"^lib/python{re.escape(version[1])}/site-packages/" in helpers

    deploy_image = (chart_tools.ROOT / "scripts" / "deploy_image.py").read_text()
    include = re.search(r'"--include=([^"]*)"', deploy_image)
    assert include is not None
    assert "python3" in include[1].split(",")
    suites = [suite for suite in DEBIAN_PYTHON if f'"{suite}"' in deploy_image]
    assert len(suites) == 1, "scripts/deploy_image.py's mmdebstrap suite: add its python3 version to DEBIAN_PYTHON"
    debian = DEBIAN_PYTHON[suites[0]]
    for path in ("/usr/bin/python3:", f"/usr/bin/python{debian}:", f"/usr/lib/python{debian}:"):
        assert path in helpers
    # Built with that python3, the venv's site-packages is of its version too.
    assert debian == version[1]
