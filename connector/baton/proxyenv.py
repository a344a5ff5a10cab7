"""The proxy variables as every outbound client reads them: httpx's reading, and the NO_PROXY forms it misses.

httpx reads HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY itself (`get_environment_proxies`), and the clients
keep its rules (docs/deployment.md, "Proxies and private CAs"). Two NO_PROXY forms that Go's reading
(`http.ProxyFromEnvironment`, the reference connector's and the SDK's) takes matched nothing in httpx's, and the
request went through the proxy the operator had excluded:

* `host:443`: httpx drops a scheme's default port from every URL (`https://host:443` is `https://host`), so an
  entry naming that port never matched the URL it names. Go compares the port the connection uses: such an entry
  also exempts that scheme's URLs without a port (`https://api.datadoghq.com`).
* `*.example.com`: Go reads it as `.example.com` (its subdomains); httpx made it the pattern `**.example.com`.

And an `https://` proxy is checked with the trust the client was given (`verify`, BATON_CA_BUNDLE's) too, as Go's
transport checks it with the origin's TLS config: httpx gave a proxy it reads from the environment its default
trust alone (the system's, certifi's, SSL_CERT_FILE), so a TLS-inspecting proxy whose CA came in the bundle was
refused. The default trust stays, so no proxy trusted before is refused now.
"""

from __future__ import annotations

import ssl
from typing import Any

import certifi
import httpx
from httpx._utils import URLPattern, get_environment_proxies

__all__ = ["environment_mounts", "environment_proxies", "no_proxy_mounts"]

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


def environment_mounts(verify: ssl.SSLContext | bool, **transport: Any) -> dict[str, httpx.AsyncBaseTransport | None]:
    """The ``mounts=`` of an httpx client: the proxies of the environment (each https:// one checked with `verify`, the
    trust the client's origin gets) and `no_proxy_mounts`. `transport`: what else the client gives its transports
    (its limits), so a proxied route is the client's own but for the proxy."""
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    proxy_trust: ssl.SSLContext | None = None  # one context (a copy of the CA store) for every https proxy
    for key, url in get_environment_proxies().items():
        if url is None:
            mounts[key] = None
            continue
        https = httpx.URL(url).scheme == "https"
        if https and proxy_trust is None:
            proxy_trust = _proxy_trust(verify)
        proxy = httpx.Proxy(url, ssl_context=proxy_trust if https else None)
        mounts[key] = httpx.AsyncHTTPTransport(verify=verify, proxy=proxy, **transport)
    mounts.update(no_proxy_mounts())
    return mounts


def _proxy_trust(verify: ssl.SSLContext | bool) -> ssl.SSLContext | None:
    """httpcore's default trust for a proxy (the system's and certifi's) with the CAs of `verify` added; None (that
    default) without an explicit context."""
    if not isinstance(verify, ssl.SSLContext):
        return None
    context = ssl.create_default_context()
    context.load_verify_locations(certifi.where())
    for der in verify.get_ca_certs(binary_form=True):
        context.load_verify_locations(cadata=der)
    return context
