"""Host names as the resolver will take them, and addresses as they are written, in a module of its own: the settings
read it (a Datadog site's host, a proxy's), and `--help` and `config` load no network stack."""

from __future__ import annotations

import ipaddress
import re

WHY_UNRESOLVABLE = (
    "an empty label, one over 63 characters, a character IDNA does not allow, or four numbers that are no IPv4 address"
)
"""Why `host_name_resolvable` refuses a name, for the messages that name its setting."""

UNRESOLVABLE = f"the host name cannot be looked up ({WHY_UNRESOLVABLE})"
"""A setting's host name `host_name_resolvable` refuses, in the words after the setting's name."""


_IPV4_STYLE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
"""What httpx takes for an IPv4 address (its `IPv4_STYLE_HOSTNAME`)."""


def host_name_resolvable(host: str) -> bool:
    """Whether a name can be asked of DNS at all: the resolver encodes it with Python's IDNA codec, which refuses an
    empty label (`a..b`) or one over 63 characters with a UnicodeError, no OSError, that no connection error
    handler expects (it ended a sync as an "unexpected error"); and httpx takes it into a URL."""
    if _IPV4_STYLE.fullmatch(host):
        # httpx reads four dotted numbers as an IPv4 address and refuses a number over 255 or with a leading 0
        # (`1.2.3.300`, `10.0.0.01`) as an InvalidURL at the first request: "unexpected error", nothing named.
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    name = host.rstrip(".")
    try:
        name.encode("idna")
    except UnicodeError:
        return False
    if name.isascii() and not name.lower().startswith("xn--"):
        return True
    # What httpx does with the name when it builds a URL, before any request: it encodes a name that is not ASCII and
    # decodes one that starts with an `xn--` label, with the `idna` package (IDNA 2008, stricter than the codec above).
    # A name it refuses (a zero-width space inside, `xn--a`) raised InvalidURL or idna's InvalidCodepoint from the
    # first request's URL: "unexpected error", the setting or variable unnamed.
    import idna  # only for such a name

    try:
        if name.isascii():
            idna.decode(name)
        else:
            idna.encode(name.lower())
    except (idna.IDNAError, UnicodeError):
        return False
    return True


def host_port(host: str, port: int | None) -> str:
    """`host:port` as an address is written, an IPv6 host in brackets (`[::1]:8081`; `::1:8081` is another address);
    the host alone (bracketed as well) without a port. The one writer of an address for every place that makes one
    from its parts: the ops server's, a proxy's, ConductorOne's gRPC authority, a Datadog URL's."""
    bracketed = f"[{host}]" if ":" in host else host
    return bracketed if port is None else f"{bracketed}:{port}"


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
