"""What a forward proxy's refusal to open a tunnel is called, for every outbound client (Datadog, the token
endpoint, the gRPC channel): one sentence with the status and its standard reason phrase.

Each library reports the refusal its own way: httpcore (httpx) as "<status> <the proxy's reason phrase>", grpc as
"HTTP proxy returned response code <status>". The proxy's reason phrase is free text and is never quoted: a proxy
may echo the request there, and a CONNECT carries the proxy credentials (Proxy-Authorization) of HTTPS_PROXY.
"""

from __future__ import annotations

import http
import re

__all__ = ["proxy_refusal"]

_STATUS = re.compile(r"(?:^|http proxy returned response code )(\d{3})(?!\d)", re.IGNORECASE)


def proxy_refusal(text: str) -> str:
    """ "the proxy refused the tunnel (HTTP 407 Proxy Authentication Required)" from a library's refusal text;
    without the status when the text holds none."""
    found = _STATUS.search(text.strip())
    if found is None:
        return "the proxy refused the tunnel"
    status = int(found[1])
    try:
        reason = f" {http.HTTPStatus(status).phrase}"
    except ValueError:
        reason = ""
    return f"the proxy refused the tunnel (HTTP {status}{reason})"
