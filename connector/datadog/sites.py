"""Datadog sites and the API base URL each one is served from."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from connector.baton.hostnames import UNRESOLVABLE, host_name_resolvable, is_loopback_host
from connector.datadog.keyshape import shown_value

__all__ = [
    "SITES",
    "InsecureBaseURL",
    "Site",
    "base_url_for",
    "check_transport_security",
    "is_insecure",
    "resolve_site",
]


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    region: str
    """The name Datadog's documentation and site selector give it (US1, EU1, US1-FED): what a user may type."""
    # Datadog documents On-Call as unavailable on us2.ddog-gov.com; the schedules syncer needs to know
    # so it can skip instead of failing the whole sync with a 404.
    supports_on_call: bool = True

    @property
    def api_url(self) -> str:
        return f"https://api.{self.name}"


# The nine values accepted by Datadog's own clients (v1 spec at HEAD and datadog-api-client 2.62.0), each with the
# region Datadog's documentation names it by.
# The Go connector only knew the first six; ap2, uk1 and us2-gov are the reason this list exists.
SITES: dict[str, Site] = {
    s.name: s
    for s in (
        Site("datadoghq.com", "US1"),
        Site("us3.datadoghq.com", "US3"),
        Site("us5.datadoghq.com", "US5"),
        Site("datadoghq.eu", "EU1"),
        Site("ddog-gov.com", "US1-FED"),
        Site("ap1.datadoghq.com", "AP1"),
        Site("ap2.datadoghq.com", "AP2"),
        Site("uk1.datadoghq.com", "UK1"),
        Site("us2.ddog-gov.com", "US2-FED", supports_on_call=False),
    )
}


def resolve_site(site: str) -> Site:
    """Return the known site for a `site` setting value, or raise ValueError listing the valid ones."""
    key = site.strip().lower().rstrip(".")
    found = SITES.get(key)
    if found is None:
        valid = ", ".join(SITES)
        # Quoted only when it could be a site (a domain name, or a short word such as `us3`): a Datadog key holds
        # no dot and is 32 or 40 characters, and one put in the site's variable (two values of a Secret swapped)
        # was printed in full, before any key was known to the log redactor. Nor a URL's password, a key in a
        # query string, or the whole of a value of any length (`shown_value`).
        could_be_a_site = "." in site or len(site.strip()) < 20
        shown = shown_value(site, url=True) if could_be_a_site else "(not shown: no domain name; a key?)"
        meant = _meant_site(key)
        hint = f"; did you mean {meant}?" if meant else ""
        raise ValueError(f"setting `site`: unknown Datadog site {shown}; valid values are: {valid}{hint}")
    return found


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_BY_REGION = {s.region.lower(): s.name for s in SITES.values()} | {"eu": "datadoghq.eu"}
_REGION_LABEL = re.compile(r"[a-z]{2}[0-9]")
"""A host's first label shaped like a region's name (`us1`, `eu1`, `ap2`)."""


def _meant_site(value: str) -> str | None:
    """The site a mistyped `site` value most likely means, or None: what the browser's address bar shows
    (`https://app.datadoghq.eu/`), the API's host (`api.us3.datadoghq.com`), a region's name (`EU1`, `us1-fed`), or
    a typo (`datadoghq.con`). Only named, never taken: the site decides where both keys are sent."""
    host = _SCHEME.sub("", value).split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1].rstrip(".")
    for prefix in ("app.", "api."):
        host = host.removeprefix(prefix)
    if host in SITES:
        return host
    if host in _BY_REGION:
        return _BY_REGION[host]
    label, _, rest = host.partition(".")
    if rest and _REGION_LABEL.fullmatch(label):
        # A region written as a subdomain (`us1.datadoghq.com`, `eu1.datadoghq.com`): its region's site, or no guess.
        # Spelling would name another region's site of the same length (us5 for us1, uk1 for eu1), and the keys
        # sent there are refused as "of another Datadog site": they look wrong when the site is.
        return _BY_REGION.get(label) or _BY_REGION.get(f"{label}-fed")
    close = difflib.get_close_matches(host, list(SITES), n=1, cutoff=0.9)
    return close[0] if close else None


def base_url_for(site: str, base_url: str | None = None) -> str:
    """API root for a site, or the explicit `base_url` override (tests, proxies) when one is given."""
    if base_url:
        parts = urlsplit(base_url.strip())
        # The value is never repeated: it may hold a password, or be a key set in the wrong variable.
        if "@" in parts.netloc:
            # httpx drops a URL's user and password (the keys authenticate), and the URL is logged and shown
            # by `config`: refusing it keeps a password that could never work out of both.
            raise ValueError("base URL: must not carry a user name or password")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("base URL: expected an http(s) URL such as https://api.datadoghq.com")
        if parts.query or parts.fragment:
            raise ValueError("base URL: must not carry a query string or fragment")
        if parts.port == 0:
            # No server listens on port 0: the connection went to the scheme's default port (80, 443), another
            # service than the one named, with both keys, while every error named port 0.
            raise ValueError("base URL: port 0 is no port a server listens on; give the API's port or none")
        if not host_name_resolvable(parts.hostname or ""):
            raise ValueError(f"base URL: {UNRESOLVABLE}")
        return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    return resolve_site(site).api_url


class InsecureBaseURL(ValueError):
    """A plain-http API root on a non-loopback host: both Datadog keys would cross the network in clear."""


def is_insecure(base_url: str) -> bool:
    """True for an ``http://`` root whose host is not loopback (`is_loopback_host`: ``localhost`` or a loopback
    address)."""
    parts = urlsplit(base_url)
    return parts.scheme == "http" and not is_loopback_host(parts.hostname or "")


def check_transport_security(base_url: str, *, allow_insecure: bool) -> None:
    """Refuse a plain-http root off loopback unless explicitly allowed (the caller then warns loudly)."""
    if is_insecure(base_url) and not allow_insecure:
        host = urlsplit(base_url).hostname or "?"
        raise InsecureBaseURL(
            f"plain http:// to {host} would send the Datadog API and application keys "
            "unencrypted; use https://, or set --insecure-base-url (BATON_INSECURE_BASE_URL) to accept that risk"
        )
