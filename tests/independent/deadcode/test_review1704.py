"""Review r1704 of code1702's round: the Datadog transport's failures name an IPv6 base URL as `hostnames.host_port`
writes it, and a one-shot client behind an https:// proxy builds no trust on the event loop."""

from __future__ import annotations

import socket

import pytest
from pydantic import SecretStr

from connector.baton.hostnames import host_port
from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError
from connector.datadog.retry import RetryPolicy


async def test_a_failure_names_an_ipv6_base_url_with_its_port_in_brackets() -> None:
    """`--base-url http://[::1]:<port>` (loopback: allowed): a refused connection said "cannot reach ::1:<port>",
    which host_port's own docstring calls another address (port unknown), where the URL said [::1]:<port>."""
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as held:
        try:
            held.bind(("::1", 0))  # bound and kept, never listening: a connection to it is refused
        except OSError:
            pytest.skip("no IPv6 loopback on this machine")
        port = held.getsockname()[1]
        client = DatadogClient(
            api_key=SecretStr("k" * 32),
            app_key=SecretStr("a" * 40),
            base_url=f"http://[::1]:{port}",
            timeout=5,
            retry=RetryPolicy(max_attempts=1),
        )
        try:
            with pytest.raises(DatadogError) as caught:
                await client.fetch_roles()
        finally:
            await client.aclose()
    assert f"cannot reach {host_port('::1', port)}" in str(caught.value), str(caught.value)


async def test_the_one_shot_client_loads_no_trust_store_on_the_loop_behind_an_https_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """code1702 moved the one-shot client's trust off the loop (`open_datadog_client`), but with HTTPS_PROXY an
    https:// URL the client's constructor, still on the loop, builds the proxy's trust (`proxyenv._proxy_trust`): the
    system store and certifi's bundle read, every CA copied (~120 ms here, six times `outbound_trust`'s default)."""
    import asyncio
    import ssl

    from connector.daemon import oneshot
    from connector.daemon.settings import Settings

    on_loop: list[str] = []
    real = ssl.SSLContext.load_verify_locations

    def loading(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        try:
            asyncio.get_running_loop()
            on_loop.append("load_verify_locations")
        except RuntimeError:
            pass
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "https://proxy.example:3128")
    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", loading)
    settings = Settings(api_key="0" * 32, app_key="1" * 40)  # type: ignore[arg-type]
    client = await oneshot.open_datadog_client(settings)
    await client.aclose()
    assert on_loop == [], f"{len(on_loop)} CA loads on the event loop"
