"""Where the two keys are sent: a base URL that names one place and connects to another, and a plain-http URL on
this machine that an environment proxy carried across the network in clear."""

from __future__ import annotations

import httpx
import pytest

from connector.baton.hostnames import is_loopback_host
from connector.baton.proxyenv import environment_mounts, proxy_address
from connector.datadog.errors import DatadogError
from connector.datadog.sites import base_url_for, is_insecure
from tests.daemon.cli import run_cli_in_process
from tests.datadog.helpers import listed
from tests.independent.datadog.peer import API_KEY, APP_KEY, client, user, users_page
from tests.independent.rawpeer import RawPeer, http

KEYS = {"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY}


@pytest.mark.parametrize("url", ["http://127.0.0.1:0", "https://127.0.0.1:0/api", "https://dd.example:00"])
def test_a_base_url_on_port_0_is_refused_before_any_key_is_sent(url: str) -> None:
    """Port 0 connected to the scheme's default port (80, 443), another service than the one named, with both keys,
    while every error named port 0 ("cannot reach 127.0.0.1:0: connection refused ... ('127.0.0.1', 80)")."""
    with pytest.raises(ValueError, match="port 0"):
        base_url_for("datadoghq.com", url)
    result = run_cli_in_process("config", env={**KEYS, "BATON_BASE_URL": url})
    assert result.returncode == 2, result
    assert "--base-url (BATON_BASE_URL)" in result.stderr, result.stderr
    assert "port 0" in result.stderr, result.stderr
    assert API_KEY not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("localhost.", False),
        ("127.0.0.1.", False),
        ("127.0.0.1%evil.example", False),
        ("::1%lo", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("api.localhost", False),
        ("localhost.evil.example", False),
        ("127.0.0.1.nip.io", False),
        ("0.0.0.0", False),
        ("::ffff:10.0.0.1", False),
        ("", False),
    ],
)
def test_loopback_is_localhost_or_a_loopback_address_and_nothing_a_resolver_may_send_elsewhere(
    host: str, loopback: bool
) -> None:
    """`api.localhost`, `localhost.` and `127.0.0.1.` are asked of DNS by glibc's resolver (whose search list may make
    them any host), and an IPv4 address takes no zone: plain http to them needs --insecure-base-url. An IPv4-mapped
    loopback address is loopback (it was refused as off the machine), and so is an IPv6 one with a zone."""
    assert is_loopback_host(host) is loopback
    url = f"http://[{host}]:8080" if ":" in host else f"http://{host}:8080"
    if host:
        assert is_insecure(url) is not loopback


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost"])
async def test_plain_http_to_this_machine_never_goes_through_the_environment_proxy(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain-http loopback URL is allowed without --insecure-base-url because nothing leaves the machine. Through
    HTTP_PROXY (set for the rest of the company's traffic) both keys crossed the network to the proxy in clear, and
    the request reached the proxy's own loopback. Go never proxies localhost or a loopback address."""
    page = users_page(user("u-1"))
    async with RawPeer([http(200, page)]) as proxy, RawPeer([http(200, page)]) as datadog:
        for variable in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
            monkeypatch.delenv(variable, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
        dd = client(datadog.base_url.replace("127.0.0.1", name))
        try:
            users = await listed(dd.fetch_users)(0)
        finally:
            await dd.aclose()
    assert [item.id for item in users.items] == ["u-1"]
    assert proxy.requests == []
    assert len(datadog.requests) == 1
    assert API_KEY.encode() in datadog.requests[0]


@pytest.mark.parametrize(
    ("target", "proxied"),
    [
        ("http://[::1]:8080", False),
        ("http://[::ffff:127.0.0.1]:8080", False),
        ("http://LOCALHOST:8080", False),
        ("http://127.0.0.2:8080", False),
        ("http://api.localhost:8080", True),
        ("http://10.0.0.1:8080", True),
        ("https://127.0.0.1:8443", True),
    ],
)
def test_which_routes_the_environment_proxy_takes(target: str, proxied: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain http on this machine is direct; https keeps its tunnel (the keys are encrypted inside it), and a name
    the resolver may send anywhere keeps the proxy, as its plain http needs --insecure-base-url anyway."""
    for variable in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://10.9.9.9:3128")
    monkeypatch.setenv("HTTPS_PROXY", "http://10.9.9.9:3128")
    routes = httpx.AsyncClient(mounts=environment_mounts(False, [target]))
    assert (proxy_address(routes._transport_for_url(httpx.URL(target))) == "10.9.9.9:3128") is proxied


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_the_key_check_redirected_elsewhere_never_follows_with_the_keys(status: int) -> None:
    """The first request of every run (the API key alone): a redirect to another origin is never followed."""
    async with RawPeer([http(200, b'{"valid": true}')]) as elsewhere:
        location = f"{elsewhere.base_url}/api/v1/validate".encode()
        async with RawPeer([http(status, b"", [(b"Location", location)])]) as datadog:
            dd = client(datadog.base_url)
            try:
                with pytest.raises(DatadogError) as caught:
                    await dd.validate()
            finally:
                await dd.aclose()
    assert elsewhere.connections == 0
    assert "redirect" in str(caught.value)
    assert str(status) in str(caught.value)
    assert elsewhere.address not in str(caught.value)
