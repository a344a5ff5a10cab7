"""The proxy variables as every outbound client reads them: httpx's reading, and the one NO_PROXY form it misses.

httpx reads HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY itself (`get_environment_proxies`), and the clients
keep its rules (docs/deployment.md, "Proxies and private CAs"), `host:port` entries among them. But httpx drops
a scheme's default port from every URL (`https://host:443` is `https://host`), so an entry naming that port,
`api.datadoghq.com:443`, never matched the URL it names, and the request went through the proxy. Go's reading
(`http.ProxyFromEnvironment`, the reference connector's and the SDK's) compares the port the connection uses, and
so does this one: such an entry also exempts that scheme's URLs without a port (`https://api.datadoghq.com`).
"""

from __future__ import annotations

import httpx
from httpx._utils import URLPattern, get_environment_proxies

__all__ = ["environment_proxies", "no_proxy_mounts"]

_DEFAULT_PORTS = {443: "https", 80: "http"}


def no_proxy_mounts() -> dict[str, None]:
    """httpx mount patterns for the NO_PROXY entries that name a scheme's default port, as that scheme's URLs
    without a port: give them to an httpx client as ``mounts=`` (None: sent directly)."""
    mounts: dict[str, None] = {}
    for key, proxy in get_environment_proxies().items():
        if proxy is not None:
            continue
        try:
            pattern = URLPattern(key)
        except (ValueError, httpx.InvalidURL):
            continue  # httpx itself refuses it when its client is built (the daemon's preflight names it first)
        scheme = _DEFAULT_PORTS.get(pattern.port) if pattern.port is not None else None
        if scheme is None or pattern.scheme not in ("", scheme):
            continue
        host = key.split("://", 1)[1].rsplit(":", 1)[0]
        mounts[f"{scheme}://{host}"] = None
    return mounts


def environment_proxies() -> dict[str, str | None]:
    """httpx's reading of the environment (pattern -> proxy URL, None for "directly"), with `no_proxy_mounts`."""
    return {**get_environment_proxies(), **no_proxy_mounts()}
