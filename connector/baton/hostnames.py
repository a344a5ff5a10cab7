"""Host names as the resolver will take them, in a module of its own: the settings read it (a Datadog site's host,
a proxy's), and `--help` and `config` load no network stack."""

from __future__ import annotations

import ipaddress


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
    address (an IPv4-mapped one too; an IPv6 one with a zone), as Go's proxy selection reads it
    (`httpproxy.useProxy`). Not a subdomain of `localhost`, nor `localhost.` or `127.0.0.1.` with a trailing dot:
    glibc's resolver answers only the bare `localhost` from /etc/hosts without DNS, and asks DNS for the others, whose
    search list may make them any host. Nor an IPv4 address with a `%zone`, which no resolver reads as one.

    The one reading of "loopback" for both of its uses: a plain-http Datadog URL is allowed on it without
    `--insecure-base-url`, and no request to it goes through an environment proxy (which would carry the keys in
    clear across the network to the proxy, and reach the proxy's own loopback, not this machine's)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)  # an IPv6 zone (`::1%lo`) is read; an IPv4 one is refused
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
