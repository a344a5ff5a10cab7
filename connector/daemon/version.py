"""The installed package's version, for --version, the start-up line, Hello's build info and the metrics.

A module of its own so that asking for it does not import the metrics (and with them grpc) at every start.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    try:
        return version("baton-datadog")
    except PackageNotFoundError:
        return "0.0.0"
