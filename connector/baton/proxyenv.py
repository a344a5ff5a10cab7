"""The proxy variables as every outbound client reads them: httpx's reading, and the NO_PROXY forms it misses.

httpx reads HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY itself (`get_environment_proxies`), and the clients
keep its rules (docs/deployment.md, "Proxies and private CAs"). Two NO_PROXY forms that Go's reading
(`http.ProxyFromEnvironment`, the reference connector's and the SDK's) takes matched nothing in httpx's, and the
request went through the proxy the operator had excluded:

* `host:443`: httpx drops a scheme's default port from every URL (`https://host:443` is `https://host`), so an
  entry naming that port never matched the URL it names. Go compares the port the connection uses: such an entry
  also exempts that scheme's URLs without a port (`https://api.datadoghq.com`), and those only (the host's other
  ports stay proxied).
* `*.example.com`: Go reads it as `.example.com` (its subdomains); httpx made it the pattern `**.example.com`.
* `10.0.0.0/8`, `fd00::/8`: Go reads a CIDR entry as a network, matched against a URL whose host is an IP address
  (it resolves no names). httpx made an IPv4 one the one address `10.0.0.0`, and an IPv6 one a pattern that is no
  URL, so no client could be built. A network can be no mount pattern: each client names the URLs it sends to
  (`targets`), and each of them whose host is an address in a network gets a mount of its own.

And an `https://` proxy is checked with the trust the client was given (`verify`, BATON_CA_BUNDLE's) too, as Go's
transport checks it with the origin's TLS config: httpx gave a proxy it reads from the environment its default
trust alone (the system's, certifi's, SSL_CERT_FILE), so a TLS-inspecting proxy whose CA came in the bundle was
refused. The default trust stays, so no proxy trusted before is refused now.

And a plain-http target on this machine (`hostnames.is_loopback_host`) is never proxied, as Go never proxies one:
the keys it carries would cross the network in clear (`no_proxy_mounts`). An https one may still be tunnelled.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.request import getproxies

import certifi
import httpcore
import httpx
from httpx._utils import URLPattern, get_environment_proxies

from connector.baton.hostnames import host_port, is_loopback_host

__all__ = [
    "environment_mounts",
    "environment_proxies",
    "no_proxy_mounts",
    "no_proxy_network",
    "proxy_address",
    "proxy_url_address",
]

_DEFAULT_PORTS = {443: "https", 80: "http"}


def no_proxy_network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network a NO_PROXY entry names (`10.0.0.0/8`, `fd00::/8`), or None for any other entry. Host bits set are
    allowed, as Go's ParseCIDR allows them (`10.1.2.3/8` is 10.0.0.0/8); an entry with a `/` that is no network Go,
    too, reads as a host name (which matches nothing)."""
    entry = entry.strip()
    if "/" not in entry or "://" in entry:
        return None
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The CIDR entries of NO_PROXY, read from where httpx reads it."""
    return [network for entry in getproxies().get("no", "").split(",") if (network := no_proxy_network(entry))]


def _httpx_proxies() -> dict[str, str | None]:
    """httpx's reading of the environment less its patterns for CIDR entries (`all://10.0.0.0/8` matched one address,
    `all://[fd00::/8]` is no URL): `no_proxy_mounts` matches them as networks."""
    return {
        key: proxy
        for key, proxy in get_environment_proxies().items()
        if not (proxy is None and key.startswith("all://") and "/" in key.removeprefix("all://"))
    }


def no_proxy_mounts(targets: Iterable[str]) -> dict[str, None]:
    """httpx mount patterns for the NO_PROXY entries httpx's own reading misses (see above): give them to an httpx
    client as ``mounts=`` (None: sent directly). `targets`: the URLs the client sends to, for the CIDR entries."""
    mounts: dict[str, None] = {}
    urls = [httpx.URL(target) for target in targets]
    for url in urls:
        if url.scheme == "http" and is_loopback_host(url.host):
            # Plain http to this machine is never sent through a proxy (Go never proxies localhost or a loopback
            # address at all): such a URL is allowed without --insecure-base-url because it stays on the machine, and
            # through HTTP_PROXY both Datadog keys crossed the network in clear, to the proxy's own loopback.
            mounts[f"http://[{url.host}]" if ":" in url.host else f"http://{url.host}"] = None
    networks = _networks()
    for url in urls if networks else ():
        host = url.host
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            continue  # a name: Go matches a network against an address only
        if any(address in network for network in networks):
            mounts[f"all://[{host}]" if address.version == 6 else f"all://{host}"] = None
    for key, proxy in _httpx_proxies().items():
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
            # A pattern without a port matches every port: given only for targets at the scheme's own port (httpx's
            # URLs leave it out), as Go exempts that port only. `host:443` sent `https://host:8443` direct as well.
            portless = f"{scheme}://{host.rsplit(':', 1)[0]}"
            covered = [url for url in urls if URLPattern(portless).matches(url)]
            if covered and all(url.port is None for url in covered):
                mounts[portless] = None
    return mounts


def environment_proxies(targets: Iterable[str]) -> dict[str, str | None]:
    """httpx's reading of the environment (pattern -> proxy URL, None for "directly"), with `no_proxy_mounts`."""
    return {**_httpx_proxies(), **no_proxy_mounts(targets)}


def environment_mounts(
    verify: ssl.SSLContext | bool, targets: Iterable[str], **transport: Any
) -> dict[str, httpx.AsyncBaseTransport | None]:
    """The ``mounts=`` of an httpx client: the proxies of the environment (each https:// one checked with `verify`, the
    trust the client's origin gets) and `no_proxy_mounts` for `targets`. `transport`: what else the client gives its
    transports (its limits), so a proxied route is the client's own but for the proxy."""
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    proxy_trust: ssl.SSLContext | None = None  # one context (a copy of the CA store) for every https proxy
    for key, url in _httpx_proxies().items():
        if url is None:
            mounts[key] = None
            continue
        https = httpx.URL(url).scheme == "https"
        if https and proxy_trust is None:
            proxy_trust = _proxy_trust(verify)
        proxy = httpx.Proxy(url, ssl_context=proxy_trust if https else None)
        mounts[key] = httpx.AsyncHTTPTransport(verify=verify, proxy=proxy, **transport)
    mounts.update(no_proxy_mounts(targets))
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


def proxy_address(transport: object) -> str | None:
    """``host:port`` of the forward proxy an httpx transport sends through (chosen from HTTPS_PROXY / NO_PROXY when
    the client was made), or None for a direct one. Never the proxy URL itself: it may carry a password."""
    url = getattr(getattr(transport, "_pool", None), "_proxy_url", None)
    if not isinstance(url, httpcore.URL):
        return None
    return _host_port(url.host.decode("ascii", "replace"), url.port, https=url.scheme == b"https")


def proxy_url_address(url: str) -> str | None:
    """``host:port`` of a proxy URL (the gRPC channel's), None when it does not parse. Never the URL: its password."""
    try:
        parsed = httpx.URL(url if "://" in url else f"http://{url}")
    except httpx.InvalidURL:
        return None
    return _host_port(parsed.host, parsed.port, https=parsed.scheme == "https") if parsed.host else None


def _host_port(host: str, port: int | None, *, https: bool) -> str:
    return host_port(host, port if port is not None else 443 if https else 80)
