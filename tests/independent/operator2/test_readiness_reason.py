"""`/readyz` says why the pod is not ready, not only which state it is in.

The runbook's first step for BatonDatadogConductorOneUnreachable is reading `/readyz` ("says why the pod is not
ready"), and `helm test` prints its reason; both read `waiting for a successful Hello to ConductorOne` whether the
token endpoint answered 503, the gRPC host refused every call, or nothing had failed yet, and `ConductorOne not
reached for N s` whatever failed. The reason now names the last failure since the last contact, in our own words
only (a method and its gRPC code, a token request's HTTP status): never a peer's text, which a probe answer has no
redactor for.
"""

from __future__ import annotations

import httpx
import pytest

from connector.baton.c1.client import RpcResult
from connector.baton.c1.token import TokenFetch
from connector.baton.runtime.http import OpsServer
from connector.baton.runtime.metrics import Metrics
from connector.baton.runtime.service import MIN_READY_WINDOW, Readiness

HELLO_WAIT = "waiting for a successful Hello to ConductorOne"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("status", "named"),
    [
        (503, "the token request was answered HTTP 503"),
        (429, "the token request was answered HTTP 429"),
        (None, "the token request got no usable answer"),
        (200, "the token request's HTTP 200 answer held no usable token"),
    ],
)
def test_a_hello_held_by_the_token_request_names_it(status: int | None, named: str) -> None:
    readiness = Readiness(clock=Clock())
    assert readiness() == (False, HELLO_WAIT)  # nothing failed yet: nothing to name
    readiness.on_token_fetch(TokenFetch(ok=False, status_code=status, seconds=0.1))
    assert readiness() == (False, f"{HELLO_WAIT}; last failure: {named}")


def test_a_failing_hello_names_its_code_and_the_latest_failure_wins() -> None:
    readiness = Readiness(clock=Clock())
    readiness.on_token_fetch(TokenFetch(ok=False, status_code=503, seconds=0.1))
    readiness.on_call(RpcResult(method="Hello", code="UNAVAILABLE", seconds=0.1))
    assert readiness() == (False, f"{HELLO_WAIT}; last failure: Hello UNAVAILABLE")


def test_not_reached_names_the_last_failure_and_contact_forgets_it() -> None:
    clock = Clock()
    readiness = Readiness(clock=clock)
    readiness.on_call(RpcResult(method="Hello", code="OK", seconds=0.1))
    readiness.hello_ok = True
    readiness.on_call(RpcResult(method="GetTask", code="DEADLINE_EXCEEDED", seconds=30.0))
    clock.now += MIN_READY_WINDOW + 1
    assert readiness() == (
        False,
        "ConductorOne not reached for 61 s (window 60 s); last failure: GetTask DEADLINE_EXCEEDED",
    )
    readiness.on_call(RpcResult(method="GetTask", code="OK", seconds=0.1))
    assert readiness() == (True, "")
    readiness.on_call(RpcResult(method="FinishTask", code="UNAVAILABLE", seconds=0.1))
    clock.now += MIN_READY_WINDOW + 1
    assert readiness()[1].endswith("; last failure: FinishTask UNAVAILABLE")


async def test_the_probe_answer_carries_the_reason() -> None:
    readiness = Readiness(clock=Clock())
    readiness.on_token_fetch(TokenFetch(ok=False, status_code=503, seconds=0.1))
    server = OpsServer(Metrics("operator2", "0"), readiness, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.bound_port}") as client:
            ours, sdks = (await client.get("/readyz")), (await client.get("/ready"))
    finally:
        await server.stop()
    reason = f"{HELLO_WAIT}; last failure: the token request was answered HTTP 503"
    assert (ours.status_code, ours.json()["reason"]) == (503, reason)
    assert (sdks.status_code, sdks.json()["details"]["error"]) == (503, reason)
