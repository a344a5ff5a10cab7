"""Enterprise networks: every connection of the daemon goes through the HTTPS_PROXY / HTTP_PROXY it is given (a
real forward proxy, pproxy, on 127.0.0.1), and one CA-bundle setting (BATON_CA_BUNDLE) is the trust for the
token endpoint and the gRPC channel, with SSL_CERT_FILE and grpc's own variable unset."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import Stack, assert_success, only_finish
from tests.fakes.proxy import ForwardProxy
from tests.fakes.tasks import kind_task

# A name no resolver knows (RFC 6761 `.invalid`); only the proxy maps it to the fake Datadog on 127.0.0.1. A
# Datadog request that bypassed the proxy could not connect at all.
DATADOG_ONLY_VIA_PROXY = "datadog.proxy-only.invalid"


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    with ForwardProxy({DATADOG_ONLY_VIA_PROXY: "127.0.0.1"}) as running:
        yield running


def test_every_connection_goes_through_the_proxy_with_the_ca_bundle_as_trust(
    proxy: ForwardProxy,  # first: it outlives the daemons the stack stops at teardown
    stack: Stack,
) -> None:
    c1, dd = stack.c1, stack.dd
    daemon = stack.start(
        {
            "HTTPS_PROXY": proxy.url,  # the token endpoint and gRPC (TLS: CONNECT tunnels)
            "HTTP_PROXY": proxy.url,  # the fake Datadog speaks plain HTTP: absolute-URI forwarding
            "NO_PROXY": None,
            "no_proxy": None,
            "BATON_BASE_URL": f"http://{DATADOG_ONLY_VIA_PROXY}:{dd.port}",
            # Plain http off loopback is refused unless accepted explicitly (the fake speaks no TLS).
            "BATON_INSECURE_BASE_URL": "true",
            # Trust only through the one setting.
            "SSL_CERT_FILE": None,
            "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": None,
            "BATON_CA_BUNDLE": str(c1.ca_cert_path),
        }
    )
    task = kind_task("sync_full")
    c1.enqueue(task)
    daemon.wait_for(lambda: task.id in c1.recorded().finish_tasks, timeout=30, what="the sync's FinishTask")
    assert_success(only_finish(c1.recorded(), task.id))

    opened = proxy.opened()
    # Datadog: the key check and the whole sync were answered, and only the proxy could reach that name.
    assert dd.requests(), "the fake Datadog saw no request"
    assert (DATADOG_ONLY_VIA_PROXY, dd.port) in opened
    # ConductorOne: every TCP connection the fake accepted (token fetch and gRPC channel) is a proxy tunnel.
    tunnels = [target for target in opened if target == ("127.0.0.1", c1.port)]
    assert len(tunnels) >= 2, f"expected the token client's and the gRPC channel's tunnels, got {opened}"
    assert c1.connections_accepted == len(tunnels)
    assert c1.recorded().issued_tokens, "the token endpoint was reached"
