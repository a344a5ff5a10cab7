"""The health server: our paths and baton-sdk's, port 0 bound and reported, the SDK's settings and their defaults."""

from __future__ import annotations

import httpx
import pytest

from connector.baton.runtime.http import OpsServer
from connector.baton.runtime.metrics import Metrics
from connector.daemon.settings import load

LIVENESS = ("/healthz", "/health", "/live")
READINESS = ("/readyz", "/ready")


async def test_every_sdk_and_kubernetes_path_answers_on_an_os_chosen_port() -> None:
    state = {"ready": False}
    server = OpsServer(Metrics("baton_datadog", "test"), lambda: (state["ready"], "no Hello yet"), "127.0.0.1", 0)
    await server.start()
    try:
        assert server.bound_port, "port 0 binds a real port and reports it"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.bound_port}") as client:
            for path in LIVENESS:
                assert (await client.get(path)).status_code == 200, path
            for path in READINESS:
                answer = await client.get(path)
                assert answer.status_code == 503, path
                assert answer.json()["reason"] == "no Hello yet"
            state["ready"] = True
            for path in READINESS:
                assert (await client.get(path)).status_code == 200, path
            assert "baton_datadog_build_info" in (await client.get("/metrics")).text
    finally:
        await server.stop()


def test_sdk_health_settings_from_flags_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BATON_HEALTH_CHECK", "BATON_HEALTH_CHECK_PORT", "BATON_HEALTH_CHECK_BIND_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    defaults = load([])
    assert (defaults.health_check, defaults.health_check_bind_address, defaults.health_check_port) == (
        True,
        "127.0.0.1",
        8081,
    ), "on (it carries /metrics), on loopback as in baton-sdk"
    flags = load(["--no-health-check", "--health-check-port", "0", "--health-check-bind-address", "::1"])
    assert (flags.health_check, flags.health_check_port, flags.health_check_bind_address) == (False, 0, "::1")
    monkeypatch.setenv("BATON_HEALTH_CHECK", "false")
    monkeypatch.setenv("BATON_HEALTH_CHECK_PORT", "9191")
    monkeypatch.setenv("BATON_HEALTH_CHECK_BIND_ADDRESS", "0.0.0.0")
    env = load([])
    assert (env.health_check, env.health_check_port, env.health_check_bind_address) == (False, 9191, "0.0.0.0")


def test_the_start_up_line_writes_an_ipv6_health_address_in_brackets(monkeypatch: pytest.MonkeyPatch) -> None:
    """`::1:8081` (the start-up line and the "cannot listen on" error) reads as the address ::1:8081, port unknown."""
    from connector.baton.hostnames import host_port
    from connector.daemon.main import startup_summary

    for name in ("BATON_HEALTH_CHECK", "BATON_HEALTH_CHECK_PORT", "BATON_HEALTH_CHECK_BIND_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    assert (host_port("::1", 8081), host_port("0.0.0.0", 0), host_port("pod.local", 9)) == (
        "[::1]:8081",
        "0.0.0.0:0",
        "pod.local:9",
    )
    service = ["--client-id", "id@tenant.conductor.one/pcc", "--client-secret", "canary-ipv6-secret"]
    settings = load([*service, "--health-check-bind-address", "::1", "--health-check-port", "8081"])
    assert startup_summary(settings)["health_address"] == "[::1]:8081"
    assert startup_summary(load([*service, "--no-health-check"]))["health_address"] == "off"


async def test_the_ipv6_any_address_serves_ipv4_probes_too() -> None:
    """`::` is every address, IPv4 included, as Go's net.Listen (baton-sdk) and the chart's values take it: asyncio
    bound it IPv6-only, so a kubelet probing the pod's IPv4 address had its connection refused (a restart loop)."""
    server = OpsServer(Metrics("baton_datadog", "test"), lambda: (True, ""), "::", 0)
    await server.start()
    try:
        for base in (f"http://127.0.0.1:{server.bound_port}", f"http://[::1]:{server.bound_port}"):
            async with httpx.AsyncClient(base_url=base) as client:
                assert (await client.get("/healthz")).status_code == 200, base
                assert (await client.get("/readyz")).status_code == 200, base
    finally:
        await server.stop()
