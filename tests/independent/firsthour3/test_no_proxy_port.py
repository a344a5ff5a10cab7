"""NO_PROXY `host:443`, as docs/deployment.md ("Proxies and private CAs") describes it: "`host:port` (as Go reads it,
`host:443` also covers `https://host` without a port, which httpx alone never matched)". Go's reading exempts the
host at that port only; ours exempted the host at every port, so a ConductorOne API host or a Datadog base URL on
another port of the same host (`BATON_C1_API_HOST=host:8443`) went around the proxy the operator had set: on the
command line, `NO_PROXY=127.0.0.2:443` sent `https://127.0.0.2:1` directly ("connection refused" from the host, not
"cannot connect to the proxy")."""

from __future__ import annotations

import httpx
import pytest
from httpx._utils import URLPattern

from connector.baton.c1 import grpc_proxy_from_env, parse_client_id, resolve_endpoints
from connector.baton.proxyenv import environment_proxies

PROXY = "http://proxy.corp:3128"
NAMES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy")


@pytest.fixture(autouse=True)
def proxy_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", PROXY)


def route(target: str) -> str | None:
    """The proxy an httpx client given `environment_proxies` sends `target` through (None: directly), as httpx picks
    it: the most specific matching pattern."""
    url = httpx.URL(target)
    patterns = sorted((URLPattern(key), proxy) for key, proxy in environment_proxies([target]).items())
    return next((proxy for pattern, proxy in patterns if pattern.matches(url)), None)


@pytest.mark.parametrize(
    ("no_proxy", "target", "expected"),
    [
        # The port the entry names: exempt, with the port written or left to the scheme.
        ("api.internal:443", "https://api.internal", None),
        ("api.internal:443", "https://api.internal:443/api", None),
        ("*.internal:443", "https://api.internal", None),
        ("10.0.0.5:443", "https://10.0.0.5", None),
        # Another port of the same host: through the proxy, as Go's reading sends it.
        ("api.internal:443", "https://api.internal:8443", PROXY),
        ("*.internal:443", "https://api.internal:8443", PROXY),
        ("10.0.0.5:443", "https://10.0.0.5:1", PROXY),
        ("api.internal:8443", "https://api.internal", PROXY),
        ("api.internal:8443", "https://api.internal:8443", None),
        # An entry without a port still covers every port.
        ("api.internal", "https://api.internal:8443", None),
    ],
)
def test_a_no_proxy_entry_with_a_port_exempts_that_port_only(
    no_proxy: str, target: str, expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert route(target) == expected


@pytest.mark.parametrize(("api_host", "expected"), [("acme.conductor.one:8443", PROXY), ("acme.conductor.one", None)])
def test_the_conductorone_channel_on_another_port_keeps_the_proxy(
    api_host: str, expected: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "acme.conductor.one:443")
    endpoints = resolve_endpoints(parse_client_id("n@acme.conductor.one/pcc"), api_host)
    assert grpc_proxy_from_env(endpoints) == expected
