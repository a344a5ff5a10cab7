"""Checks of the process environment the libraries read by themselves, before anything connects.

httpx and grpc read `SSL_CERT_FILE`, `SSL_CERT_DIR` and the proxy variables on their own, deep inside the first
request: a typo there would surface as an SSLError, an InvalidURL or a FileNotFoundError with no name on it.
Checked here, each mistake is one line naming the variable (exit 2).
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from connector.baton.proxyenv import no_proxy_network
from connector.daemon.settings import SettingsError
from connector.datadog.sites import host_name_resolvable

if TYPE_CHECKING:
    from connector.baton.c1 import C1Endpoints

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "GRPC_PROXY")
# HTTP CONNECT only: grpc has no SOCKS support, and httpx needs the `socksio` extra, which is not installed.
_PROXY_SCHEMES = ("http", "https")


def check_environment(environ: Mapping[str, str]) -> None:
    """Raise SettingsError naming every unusable TLS or proxy variable (not only the first: each fix was a run)."""
    checks: list[Callable[[], None]] = []
    cert_file = environ.get("SSL_CERT_FILE", "").strip()
    if cert_file:
        checks.append(partial(_check_ca_file, "SSL_CERT_FILE", Path(cert_file)))
    roots = environ.get("GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "").strip()
    if roots:
        checks.append(partial(_check_ca_file, "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", Path(roots)))
    cert_dir = environ.get("SSL_CERT_DIR", "").strip()
    if cert_dir:
        checks.append(partial(_check_ca_dir, cert_dir))
    for upper in PROXY_VARIABLES:
        for name in (upper, upper.lower()):
            value = environ.get(name, "").strip()
            if value:
                checks.append(partial(_check_proxy, name, value))
    for name in ("NO_PROXY", "no_proxy"):
        checks.append(partial(_check_no_proxy, name, environ.get(name, "")))
    problems: list[str] = []
    for check in checks:
        try:
            check()
        except SettingsError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SettingsError(*problems)


def _check_ca_dir(cert_dir: str) -> None:
    if not Path(cert_dir).is_dir():
        raise SettingsError(f"environment SSL_CERT_DIR: {cert_dir} is not a directory")


def _check_ca_file(name: str, path: Path) -> None:
    if not path.is_file():
        raise SettingsError(f"environment {name}: {path} does not exist or is not a file")
    try:
        ssl.create_default_context(cafile=str(path))
    except PermissionError:
        raise SettingsError(f"environment {name}: {path} is not readable") from None
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        raise SettingsError(f"environment {name}: {path} holds no PEM certificate") from None


def _check_proxy(name: str, value: str) -> None:
    # Like httpx, curl and Go, a bare host:port means http://host:port.
    url = value if "://" in value else f"http://{value}"
    # The value is not repeated: a proxy URL may carry a password.
    problem = f"environment {name}: not a proxy URL (expected http://host:port or http://user:password@host:port)"
    if any(char.isspace() or ord(char) < 32 for char in value):
        raise SettingsError(problem)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SettingsError(problem) from None
    if parts.scheme.lower().startswith("socks"):
        raise SettingsError(
            f"environment {name}: SOCKS proxies are not supported; use an HTTP proxy (http://host:port)"
        )
    if parts.scheme.lower() not in _PROXY_SCHEMES or not parts.hostname or (port is not None and port == 0):
        raise SettingsError(problem)
    if not host_name_resolvable(parts.hostname):
        # Refused by the resolver's IDNA encoding at the first request, as an "unexpected error" naming nothing.
        raise SettingsError(
            f"environment {name}: the proxy's host name cannot be looked up (an empty label, or one over 63 characters)"
        )


def _check_no_proxy(name: str, value: str) -> None:
    # httpx turns each entry into a URL pattern when its client is built (`all://*example.com`, `all://[::1]`); an
    # entry it cannot parse would surface there as an InvalidURL naming no variable.
    for entry in (part.strip() for part in value.split(",")):
        if not entry or entry == "*" or no_proxy_network(entry) is not None:
            continue  # a network (`fd00::/8` too) is read by `proxyenv`, as Go reads it, and never made a URL
        pattern = entry if "://" in entry else f"all://[{entry}]" if _is_ipv6(entry) else f"all://*{entry}"
        try:
            httpx.URL(pattern)
        except (httpx.InvalidURL, UnicodeError):
            hint = "; write an IPv6 address without brackets (::1)" if "[" in entry else ""
            raise SettingsError(
                f"environment {name}: {entry!r} is not a host name, domain, IP address or network{hint}"
            ) from None


def _is_ipv6(entry: str) -> bool:
    try:
        ipaddress.IPv6Address(entry.split("/")[0])
    except ValueError:
        return False
    return True


def check_grpc_proxy(endpoints: C1Endpoints) -> None:
    """Refuse a proxy the gRPC channel cannot use (`grpc_proxy_problem`: the runner refuses it too, for any
    connector); here it is a setting to fix, exit 2, before anything starts."""
    from connector.baton.c1 import grpc_proxy_problem  # the gRPC client: service mode only, one-shot never loads it

    problem = grpc_proxy_problem(endpoints)
    if problem is not None:
        raise SettingsError(problem)
