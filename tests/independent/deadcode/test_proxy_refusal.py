"""`proxy_refusal` (connector/baton/proxyrefusal.py) on a refusal text no test gave: one with no status in it, and
one whose status has no standard reason phrase. The first says the tunnel was refused, without a status; the second
names the status alone. Neither repeats the proxy's own words, which may echo the CONNECT's Proxy-Authorization."""

from __future__ import annotations

import pytest

from connector.baton.proxyrefusal import proxy_refusal

SECRET = "Basic dXNlcjpodW50ZXIy"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (f"tunnel failed: {SECRET}", "the proxy refused the tunnel"),
        ("", "the proxy refused the tunnel"),
        (f"499 {SECRET}", "the proxy refused the tunnel (HTTP 499)"),
        (f"HTTP proxy returned response code 599 {SECRET}", "the proxy refused the tunnel (HTTP 599)"),
        (f"407 {SECRET}", "the proxy refused the tunnel (HTTP 407 Proxy Authentication Required)"),
    ],
)
def test_a_refusal_is_named_by_its_status_alone(text: str, said: str) -> None:
    assert proxy_refusal(text) == said
