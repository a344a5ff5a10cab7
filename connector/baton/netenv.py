"""Checks of the process environment the network libraries read by themselves, for every connection a connector
makes (its upstream's, the token endpoint's, the gRPC channel to ConductorOne).

httpx and grpc read `SSL_CERT_FILE`, `SSL_CERT_DIR`, `GRPC_DEFAULT_SSL_ROOTS_FILE_PATH` and the proxy variables on
their own, deep inside the first request: a typo there surfaced as an SSLError, an InvalidURL or a ValueError ("Invalid
IPv6 URL") with no name on it, or as a connection that failed for ever. `environment_problems` names each such
variable, every one at once (each fix was a run); a proxy's value is never repeated (it may carry a password). The
service runner refuses to start on them; a wiring may word them its own way sooner (the Datadog daemon's preflight).
Blocking (it loads CA files): run it off the event loop.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from connector.baton.envquotes import in_quotes, wrapped_in_quotes
from connector.baton.hostnames import WHY_UNRESOLVABLE, host_name_resolvable
from connector.baton.ids import quoted_id
from connector.baton.pathnames import lookup_problem, shell_shorthand
from connector.baton.proxyenv import no_proxy_network

# The proxies httpx reads (and hands the gRPC channel: `grpc_proxy_from_env`). grpc's own `grpc_proxy` is read by
# nobody: the channel's reading of the environment is turned off (docs/deployment.md).
_PROXY_VARIABLE_SCHEMES = ("https", "http", "all")
"""The `<scheme>_proxy` variables httpx reads a proxy from (`proxy_variables_in_effect`); NO_PROXY is `no`."""
# HTTP CONNECT only: grpc has no SOCKS support, and httpx needs the `socksio` extra, which is not installed.
_PROXY_SCHEMES = ("http", "https")


def environment_problems(environ: Mapping[str, str]) -> list[str]:
    """Every unusable TLS or proxy variable of `environ`, one message each naming it (none: [])."""
    problems: list[str | None] = []
    paths = {name: _as_read(environ, name, problems) for name in _PATH_VARIABLES}
    if paths["SSL_CERT_FILE"]:
        problems.append(_ca_file_problem("SSL_CERT_FILE", Path(paths["SSL_CERT_FILE"]), environ))
    if paths["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"]:
        problems.append(
            _ca_file_problem(
                "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", Path(paths["GRPC_DEFAULT_SSL_ROOTS_FILE_PATH"]), environ
            )
        )
    # A list, as OpenSSL reads it (httpx hands the value to it as `capath`) and Go too: `/etc/ssl/certs:/ca` trusts
    # both. It was checked as one path and refused, and a deployment that works started nowhere. An empty entry
    # (`/etc/ssl/certs:`) names nothing, as OpenSSL skips it; a named one that is no directory is a typo.
    for cert_dir in paths["SSL_CERT_DIR"].split(os.pathsep):
        if cert_dir and (unusable := lookup_problem(Path(cert_dir))) is not None:
            problems.append(f"environment SSL_CERT_DIR: {cert_dir}: {unusable}")
        elif cert_dir and (shorthand := shell_shorthand(Path(cert_dir), environ)) is not None:
            problems.append(f"environment SSL_CERT_DIR: {cert_dir}: {shorthand}")
        elif cert_dir and not Path(cert_dir).is_dir():
            problems.append(f"environment SSL_CERT_DIR: {cert_dir} is not a directory")
    in_effect = proxy_variables_in_effect(environ)
    for scheme in _PROXY_VARIABLE_SCHEMES:
        # As it is: urllib takes any value but "" as a proxy, and httpx refuses a space or a line break in its URL
        # (`_proxy_problem` names the variable).
        if (found := in_effect.get(scheme)) is not None:
            problems.append(_proxy_problem(*found))
    if (found := in_effect.get("no")) is not None:
        problems.append(_no_proxy_problem(*found))  # httpx strips each entry itself
    return [problem for problem in problems if problem is not None]


def proxy_variables_in_effect(environ: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Scheme (`https`, `no`, ...) -> the name and value of the `<scheme>_proxy` variable in effect, read as urllib's
    `getproxies_environment` (which httpx asks) reads `os.environ`: first any variable whose name ends in `_proxy` in
    any letter case (`HTTPS_proxy`, `Https_Proxy`) with a value, then those whose name ends in lower-case `_proxy`,
    in the environment's order, each overriding, "" unsetting. Judged by the two spellings alone, a mixed-case one
    that urllib took passed the check: a SOCKS proxy there ended the first request with an ImportError naming no
    variable, and a bad NO_PROXY entry with an InvalidURL."""
    in_effect: dict[str, tuple[str, str]] = {}
    for name, value in environ.items():
        if value and name[-6:].lower() == "_proxy":
            in_effect[name[:-6].lower()] = (name, value)
    if "REQUEST_METHOD" in environ:
        # urllib's CGI rule (CVE-2016-1000110): an HTTP_PROXY a web server may have set from a request header is not
        # taken by the first pass; a lower-case `http_proxy` still is, by the second.
        in_effect.pop("http", None)
    for name, value in environ.items():
        if name[-6:] == "_proxy":
            if value:
                in_effect[name[:-6].lower()] = (name, value)
            else:
                in_effect.pop(name[:-6].lower(), None)
    return in_effect


_PATH_VARIABLES = ("SSL_CERT_FILE", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "SSL_CERT_DIR")


def _as_read(environ: Mapping[str, str], name: str, problems: list[str | None]) -> str:
    """The path variable `name` as httpx, OpenSSL and grpc read it: as it is, any value but "" set. A value with a
    line break at its end (a ConfigMap key made from a file, `--from-file`) passed a check that stripped it, and the
    first request failed on the path with the line break, as an "unexpected error: FileNotFoundError" naming no
    variable (OpenSSL skips such a directory silently: every TLS handshake failed). Such a value is named in
    `problems`, and "" returned for it: it is judged no further; so is one an env file kept in its quotes (it was
    judged as a path with quotes in it: "does not exist", or a `~` path "not expanded here", the quotes unnamed)."""
    value = environ.get(name, "")
    if wrapped_in_quotes(value):
        problems.append(f"environment {name}: {in_quotes('read')}")
        return ""
    if value == value.strip():
        return value
    problems.append(
        f"environment {name}: the value begins or ends with whitespace (a line break from a file?), which is read "
        "as part of the path; remove it"
    )
    return ""


def _ca_file_problem(name: str, path: Path, environ: Mapping[str, str]) -> str | None:
    if (unusable := lookup_problem(path)) is not None:
        return f"environment {name}: {path}: {unusable}"
    if (shorthand := shell_shorthand(path, environ)) is not None:
        return f"environment {name}: {path}: {shorthand}"
    if not path.is_file():
        return f"environment {name}: {path} does not exist or is not a file"
    try:
        ssl.create_default_context(cafile=str(path))
    except PermissionError:
        return f"environment {name}: {path} is not readable"
    except (ssl.SSLError, ValueError, UnicodeDecodeError):
        return f"environment {name}: {path} holds no PEM certificate"
    return None


def _proxy_problem(name: str, value: str) -> str | None:
    # Like httpx, curl and Go, a bare host:port means http://host:port.
    if wrapped_in_quotes(value):  # the quotes are named; the value is not shown (a URL may carry a password)
        return f"environment {name}: {in_quotes('read')}"
    url = value if "://" in value else f"http://{value}"
    # The value is not repeated: a proxy URL may carry a password.
    problem = f"environment {name}: not a proxy URL (expected http://host:port or http://user:password@host:port)"
    if any(char.isspace() or ord(char) < 32 for char in value):
        return f"{problem}: it holds whitespace or a control character (a line break from a file?)"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return problem
    if parts.scheme.lower().startswith("socks"):
        return f"environment {name}: SOCKS proxies are not supported; use an HTTP proxy (http://host:port)"
    if parts.scheme.lower() not in _PROXY_SCHEMES or not parts.hostname or (port is not None and port == 0):
        return problem
    if not host_name_resolvable(parts.hostname):
        # Refused by the resolver's IDNA encoding at the first request, as an "unexpected error" naming nothing.
        return f"environment {name}: the proxy's host name cannot be looked up ({WHY_UNRESOLVABLE})"
    return None


def _no_proxy_problem(name: str, value: str) -> str | None:
    # httpx turns each entry into a URL pattern when its client is built (`all://*example.com`, `all://[::1]`); an
    # entry it cannot parse would surface there as an InvalidURL naming no variable.
    if wrapped_in_quotes(value):  # each entry was judged with a quote kept at the first's start, the last's end
        return f"environment {name}: {in_quotes('read')}"
    for entry in (part.strip() for part in value.split(",")):
        if not entry or entry == "*" or no_proxy_network(entry) is not None:
            continue  # a network (`fd00::/8` too) is read by `proxyenv`, as Go reads it, and never made a URL
        pattern = entry if "://" in entry else f"all://[{entry}]" if _is_ipv6(entry) else f"all://*{entry}"
        try:
            httpx.URL(pattern)
        except (httpx.InvalidURL, UnicodeError):
            hint = "; write an IPv6 address without brackets (::1)" if "[" in entry else ""
            # Judged on the whole variable: a password holding a ',' is split in two, and the half before it has no '@'.
            shown = quoted_id(value if "@" in value else entry, 100, url=True)
            return f"environment {name}: {shown} is not a host name, domain, IP address or network{hint}"
    return None


def _is_ipv6(entry: str) -> bool:
    try:
        ipaddress.IPv6Address(entry.split("/")[0])
    except ValueError:
        return False
    return True
