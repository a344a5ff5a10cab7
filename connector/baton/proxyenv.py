"""The proxy variables as every outbound client reads them: httpx's reading, and the NO_PROXY forms it misses.

httpx reads HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY itself (`get_environment_proxies`), and the clients
keep its rules (docs/deployment.md, "Proxies and private CAs"). Two NO_PROXY forms that Go's reading
(`http.ProxyFromEnvironment`, the reference connector's and the SDK's) takes matched nothing in httpx's, and the
request went through the proxy the operator had excluded:

* `host:443`: httpx drops a scheme's default port from every URL (`https://host:443` is `https://host`), so an
  entry naming that port never matched the URL it names. Go compares the port the connection uses: such an entry
  also exempts that scheme's URLs without a port (`https://api.datadoghq.com`).
* `*.example.com`: Go reads it as `.example.com` (its subdomains); httpx made it the pattern `**.example.com`.
"""

from __future__ import annotations

import httpx
from httpx._utils import URLPattern, get_environment_proxies

__all__ = ["environment_proxies", "no_proxy_mounts"]

_DEFAULT_PORTS = {443: "https", 80: "http"}


def no_proxy_mounts() -> dict[str, None]:
    """httpx mount patterns for the NO_PROXY entries httpx's own reading misses (see above): give them to an httpx
    client as ``mounts=`` (None: sent directly)."""
    mounts: dict[str, None] = {}
    for key, proxy in get_environment_proxies().items():
        if proxy is not None:
            continue
        kind, _, host = key.partition("://")
        if host.startswith("**."):
            host = host[1:]  # `*.example.com`, which httpx prefixed with its own `*`
            mounts[f"{kind}://{host}"] = None
        try:
            pattern = URLPattern(f"{kind}://{host}")
        except (ValueError, httpx.InvalidURL):
            continue  # httpx itself refuses it when its client is built (the daemon's preflight names it first)
        scheme = _DEFAULT_PORTS.get(pattern.port) if pattern.port is not None else None
        if scheme is not None and pattern.scheme in ("", scheme):
            mounts[f"{scheme}://{host.rsplit(':', 1)[0]}"] = None
    return mounts


def environment_proxies() -> dict[str, str | None]:
    """httpx's reading of the environment (pattern -> proxy URL, None for "directly"), with `no_proxy_mounts`."""
    return {**get_environment_proxies(), **no_proxy_mounts()}
