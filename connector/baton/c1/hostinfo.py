"""What a daemon says about itself to ConductorOne: `host_id` (§2.1) and the Hello build/OS info (§2.2).

The Go SDK notes that C1 rejects a Hello whose OS fields are empty, so every field gets a fallback the way
`pkg/tasks/c1api/hello.go` does it.
"""

from __future__ import annotations

import os
import platform
import socket
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from connector.baton.printable import surrogates_escaped

if TYPE_CHECKING:  # loaded where a Hello is built: the settings read MAX_FIELD_LENGTH, and --help needs no protobuf
    from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2

HOST_ID_ENV = "BATON_HOST_ID"
MAX_FIELD_LENGTH = 256


def default_host_id(environ: Mapping[str, str]) -> str:
    """BATON_HOST_ID if set, else the hostname, else `baton-sdk` (Go `getHostID`)."""
    value = environ.get(HOST_ID_ENV, "").strip() or socket.gethostname() or "baton-sdk"
    return _cap(value)


def given_host_id(value: str) -> str:
    """A host id given by the program embedding the runner (`ServiceConfig.host_id`), as a message field can carry it:
    escaped as the derived one is (`_cap`). A value from the embedder's own `os.environ` or `socket.gethostname()` may
    hold lone surrogates, and the Hello raised UnicodeEncodeError being built: a traceback, the service never up."""
    return _cap(value)


def build_info(
    package: str = "/dummy/path", package_version: str = "0.0.0"
) -> baton_pb2.BatonServiceHelloRequest.BuildInfo:
    """Go sends its runtime version, main module path and version; the defaults are Go's fallbacks."""
    from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2

    return baton_pb2.BatonServiceHelloRequest.BuildInfo(
        lang_version=_cap(f"python{platform.python_version()}"),
        package=_cap(package),
        package_version=_cap(package_version),
    )


def os_info(os_release: Path = Path("/etc/os-release")) -> baton_pb2.BatonServiceHelloRequest.OSInfo:
    """The gopsutil `host.Info` fields, with the fallbacks of Go's `collectOSInfo`."""
    from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2

    release = _read_os_release(os_release)
    system = platform.system().lower() or "unknown"
    kernel_version = platform.release() or "unknown"
    platform_name = release.get("ID") or system
    platform_family = (release.get("ID_LIKE") or "").split(" ")[0] or platform_name
    return baton_pb2.BatonServiceHelloRequest.OSInfo(
        hostname=_cap(socket.gethostname() or "unknown"),
        os=_cap(system),
        platform=_cap(platform_name),
        platform_version=_cap(release.get("VERSION_ID") or kernel_version),
        platform_family=_cap(platform_family),
        kernel_version=_cap(kernel_version),
        kernel_arch=_cap(platform.machine() or "unknown"),
        virtualization_system=_cap(_virtualization()),
    )


def _virtualization() -> str:
    # gopsutil reports the container runtime it detects; these are the two a Kubernetes pod shows.
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return "kubernetes"
    if Path("/.dockerenv").exists() or Path("/run/.containerenv").exists():
        return "docker"
    return "none"


# os-release files are a few hundred bytes; what lies past this is not read.
MAX_OS_RELEASE_BYTES = 64 * 1024


def _read_os_release(path: Path) -> dict[str, str]:
    try:
        # O_NONBLOCK: a FIFO there must not hold the Hello (at start: readiness) waiting for a writer, and only a
        # regular file is read, up to MAX_OS_RELEASE_BYTES (a link to /dev/zero read forever, into memory).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                return {}
            data = file.read(MAX_OS_RELEASE_BYTES)
        # Bytes, as gopsutil reads them: a file that is not UTF-8 must not stop every Hello (it raised out of them).
        text = data.decode("utf-8", "replace")
    except OSError:
        return {}
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("\"'")
    return values


def _cap(value: str) -> str:
    """`value` as a message field can carry it. The host name and uname's fields are the machine's bytes (Linux takes
    any for a host name), read by Python with each one that is not UTF-8 as a lone surrogate, which no protobuf string
    holds: building the Hello, and every request carrying the host id, raised UnicodeEncodeError, and the service never
    said Hello. Each such byte is written `\\xff`, as `config` shows it; escaped before the cut, so the cut keeps to the
    limit."""
    return surrogates_escaped(value)[:MAX_FIELD_LENGTH]
