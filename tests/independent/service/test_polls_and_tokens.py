"""Polling and the token endpoint against a hostile ConductorOne: GetTask refused with every status code, asked to
slow down, and a token endpoint whose answers expire in the past, in a million years, never, or are refused mid-run.

What must hold: the daemon never exits on a mid-run refusal (only a refusal at start-up is the credentials'
verdict, docs/service-mode.md "token endpoint answer at start-up"), waits at least what ConductorOne asked, and every
task it was handed is reported once ConductorOne answers again; no token, no client secret in any log event.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import grpc
import pytest
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2, status_pb2

from tests.independent.service.rig import Running, running, space_task

Code = grpc.StatusCode


def _slow_down(seconds: int) -> bytes:
    status = status_pb2.Status(code=Code.RESOURCE_EXHAUSTED.value[0], message="slow down")
    status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=seconds)))
    return status.SerializeToString()


def _no_secret_in(rig: Running) -> None:
    secrets = [*rig.fake.recorded().issued_tokens, rig.fake.client_secret]
    text = repr(rig.events)
    for secret in secrets:
        assert secret not in text, "a secret reached a log event"


@pytest.mark.parametrize(
    ("code", "times"),
    [
        (Code.UNAVAILABLE, 3),
        (Code.UNAUTHENTICATED, 4),
        (Code.PERMISSION_DENIED, 3),
        (Code.UNIMPLEMENTED, 3),
        (Code.NOT_FOUND, 3),
        (Code.FAILED_PRECONDITION, 3),
        (Code.INVALID_ARGUMENT, 3),
        (Code.INTERNAL, 3),
        (Code.DEADLINE_EXCEEDED, 3),
        (Code.OUT_OF_RANGE, 3),
    ],
)
async def test_polls_refused_mid_run_with_any_code_are_retried_and_the_next_task_runs(
    tmp_path: Path, code: grpc.StatusCode, times: int
) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next("GetTask", code, times=times, echo_tokens=True)
        task = space_task("grant", "105", "reader", "ana@wiki.example")
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success"
        assert rig.logged("polling ConductorOne failed")
        _no_secret_in(rig)


async def test_a_poll_asked_to_slow_down_waits_at_least_that_long(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.fake.fail_next("GetTask", Code.RESOURCE_EXHAUSTED, status_details=_slow_down(3))
        await rig.until("the refused poll", lambda: rig.logged("polling ConductorOne failed"))
        polls = rig.fake.recorded().get_task_count
        await asyncio.sleep(1.0)
        assert rig.fake.recorded().get_task_count == polls, "polled again before the delay ConductorOne asked for"
        failed = rig.logged("polling ConductorOne failed")[0]
        assert failed["retry_in_seconds"] >= 3


@pytest.mark.parametrize("status", [401, 400, 403, 404, 500, 503, 429])
async def test_a_token_endpoint_refusing_mid_run_never_ends_the_daemon_and_the_task_is_reported(
    tmp_path: Path, status: int
) -> None:
    async with running(tmp_path) as rig:
        rig.fake.revoke_tokens()
        rig.fake.fail_token_requests(status, times=3)
        task = space_task("grant", "12", "reader", "bo@wiki.example")
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success"
        assert not rig.service.done()
        _no_secret_in(rig)


async def test_tokens_rotated_while_a_grant_is_in_flight_do_not_lose_its_report(tmp_path: Path) -> None:
    async with running(tmp_path) as rig:
        rig.wiki.hold = asyncio.Event()
        task = space_task("grant", "105", "editor", "bo@wiki.example")
        rig.fake.enqueue(task)
        await asyncio.wait_for(rig.wiki.granting.wait(), timeout=10)
        rig.fake.revoke_tokens()
        rig.wiki.hold.set()
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success"
        assert rig.fake.recorded().tokens_issued >= 2
        assert rig.wiki.writes.count(("add", "105", "editor", "bo@wiki.example")) == 1


def _token_body(rig: Running, **fields: object) -> bytes:
    token = rig.fake.state.issue_token()
    return json.dumps({"access_token": token, "token_type": "Bearer", **fields}).encode()


@pytest.mark.parametrize(
    "fields",
    [
        {"expires_in": -3600},
        {"expires_in": 0},
        {},
        {"expires_in": None},
        {"expires_in": 10**15},
        {"expires_in": 1e300},
        {"expires_in": 3600.5},
        {"expires_in": 2**63},
    ],
    ids=["past", "zero", "missing", "null", "huge", "huge-float", "fraction", "int64-overflow"],
)
async def test_a_token_of_any_advertised_lifetime_serves_and_the_daemon_refetches_when_refused(
    tmp_path: Path, fields: dict[str, object]
) -> None:
    async with running(tmp_path) as rig:
        rig.fake.revoke_tokens()
        rig.fake.answer_token_requests(_token_body(rig, **fields), times=1)
        first = space_task("grant", "7", "editor", "bo@wiki.example")
        rig.fake.enqueue(first)
        assert (await rig.finished(first.id)).WhichOneof("final_state") == "success"
        # That token is then refused: whatever it advertised, a fresh one is fetched and the work goes on.
        rig.fake.revoke_tokens()
        second = space_task("revoke", "7", "editor", "bo@wiki.example")
        rig.fake.enqueue(second)
        assert (await rig.finished(second.id)).WhichOneof("final_state") == "success"
        assert not rig.service.done()
        _no_secret_in(rig)


@pytest.mark.parametrize(
    "body",
    [
        b'{"access_token": "", "expires_in": 3600}',
        b'{"access_token": "a b\\r\\nx-evil: 1", "expires_in": 3600}',
        b'{"access_token": "tok", "token_type": "bearer\\r\\nx: y", "expires_in": 3600}',
        b'{"access_token": ["x"], "expires_in": 3600}',
        b'{"access_token": "tok", "expires_in": "soon"}',
        b'{"access_token": "tok", "expires_in": true}',
        b"[]",
        b"null",
        b'{"access_token": "\\u00e9t\\u00e9", "expires_in": 3600}',
    ],
    ids=[
        "empty",
        "header-injection",
        "type-injection",
        "list",
        "string-expiry",
        "bool-expiry",
        "array",
        "null",
        "non-ascii",
    ],
)
async def test_an_unusable_token_answer_mid_run_is_retried_and_the_task_reported(tmp_path: Path, body: bytes) -> None:
    async with running(tmp_path) as rig:
        rig.fake.revoke_tokens()
        rig.fake.answer_token_requests(body, times=2)
        task = space_task("grant", "12", "reader", "ana@wiki.example")
        rig.fake.enqueue(task)
        report = await rig.finished(task.id)
        assert report.WhichOneof("final_state") == "success"
        assert not rig.service.done()


async def test_tokens_advertised_as_already_expired_serve_concurrent_work_with_one_fetch_per_call(
    tmp_path: Path,
) -> None:
    """expires_in 0 makes every call fetch its own token (§1.5, as Go's oauth2 does); several calls at once must
    neither livelock on each other's fresh-but-expired tokens nor fetch more than one per call."""
    async with running(tmp_path, task_concurrency=4) as rig:
        rig.fake.set_token_expiry(0, token_lifetime=3600)
        tasks = [
            space_task("grant", space, level, email)
            for space in ("7", "105")
            for level in ("reader", "editor")
            for email in ("ana@wiki.example", "bo@wiki.example")
        ]
        for task in tasks:
            rig.fake.enqueue(task)
        for task in tasks:
            assert (await rig.finished(task.id)).WhichOneof("final_state") == "success"
        recorded = rig.fake.recorded()
        assert recorded.tokens_issued <= len(recorded.calls) + 1
        assert all(r.ok for r in recorded.token_requests)
