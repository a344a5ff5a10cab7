"""Host names as the resolver will take them, in a module of its own: the settings read it (a Datadog site's host,
a proxy's), and `--help` and `config` load no network stack."""

from __future__ import annotations


def host_name_resolvable(host: str) -> bool:
    """Whether a name can be asked of DNS at all: the resolver encodes it with Python's IDNA codec, which refuses an
    empty label (`a..b`) or one over 63 characters with a UnicodeError, no OSError, that no connection error
    handler expects (it ended a sync as an "unexpected error")."""
    try:
        host.rstrip(".").encode("idna")
    except UnicodeError:
        return False
    return True


def is_loopback_host(host: str) -> bool:
    """Whether traffic to `host` (a URL's host, IPv6 without brackets) stays on this machine: `localhost` or a loopback
    address (an IPv4-mapped one too), as Go's proxy selection reads it (`httpproxy.useProxy`). A subdomain of
    `localhost` is not: the resolver (glibc's) asks DNS for it, and the DNS search list may make it any host.

    The one reading of "loopback" for both of its uses: a plain-http Datadog URL is allowed on it without
    `--insecure-base-url`, and no request to it goes through an environment proxy (which would carry the keys in
    clear across the network to the proxy, and reach the proxy's own loopback, not this machine's)."""
    import ipaddress  # here: `--help` and `config` load this module, and only URL checks need it

    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
