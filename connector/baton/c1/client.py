"""The BatonService client a daemon uses to talk to ConductorOne (docs/spec/service-mode.md §1.6, §1.7, §2, §3.5 to §3.7).

One long-lived TLS channel (the Go client dials per RPC; the wire does not care), an `authorization: Bearer`
header on every call, `host_id` on every request, a per-call deadline, and one retry with a fresh token when
the server answers UNAUTHENTICATED. Failures come out as `C1TransientError` (back off, try again) or
`C1FatalError` (this call will not succeed as is); the scheduler on top decides what that means for the task
or the process.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import io
import json
import logging
import os
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar, cast
from urllib.parse import urlsplit

import grpc
import grpc.aio
import httpx
import structlog
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message
from google.rpc import error_details_pb2, status_pb2
from httpx._utils import URLPattern

from connector.baton.c1 import hostinfo
from connector.baton.c1.credentials import C1Endpoints, ClientId, ClientSecret, resolve_endpoints
from connector.baton.c1.durations import clamped_seconds
from connector.baton.c1.errors import (
    MAX_RETRY_AFTER,
    C1AuthError,
    C1Error,
    C1RequestTooLargeError,
    C1ResponseTooLargeError,
    C1TransientError,
    C1UnreadableAnswerError,
    C1UnreadableTaskError,
    answer_lost,
    classify_status,
    lost_under_the_call,
    network_cause,
    proxy_connect_failure,
)
from connector.baton.c1.roots import grpc_root_certificates
from connector.baton.c1.salvage import (
    MAX_ITEMS,
    SCAN_ABOVE_BYTES,
    PartlyRead,
    UnreadableTask,
    decode_get_task,
    held_bytes,
    salvage,
    weigh,
)
from connector.baton.c1.token import BATON_SDK_VERSION, AccessToken, TokenFetch, TokenSource
from connector.baton.pb.c1.connector.v2 import connector_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2, baton_pb2_grpc
from connector.baton.proxyenv import environment_proxies, proxy_url_address
from connector.baton.retry import Backoff, RetryPolicy

UPLOAD_CHUNK_SIZE: Final = 512 * 1024
"""Bytes of the file in each UploadAsset data message, the last one the remainder (docs/spec/service-mode.md §3.7)."""
MAX_ANNOTATIONS: Final = 16
UPLOAD_RETRY: Final = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=5.0)
"""Whole-stream upload attempts; the task's own retry (ConductorOne reschedules a failed sync) is the next level."""

TASK_ID_LENGTH: Final = 27
_TASK_ID = re.compile(f"[a-zA-Z0-9]{{{TASK_ID_LENGTH}}}")

DEFAULT_CHANNEL_OPTIONS: Final[tuple[tuple[str, int], ...]] = (
    # Pings only while a call is open and no more often than Go servers allow by default (5 min), so a
    # server or proxy with default enforcement never answers GOAWAY too_many_pings; a dead connection under
    # a long upload is still noticed.
    ("grpc.keepalive_time_ms", 300_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.keepalive_permit_without_calls", 0),
    # grpc's default reconnect backoff grows to 120 s, which would keep failing polls fast long after C1 is
    # back; the scheduler does its own backoff on top.
    ("grpc.initial_reconnect_backoff_ms", 1_000),
    ("grpc.max_reconnect_backoff_ms", 30_000),
)
MAX_RECEIVE_MESSAGE_BYTES: Final = 32 * 1024 * 1024
"""The largest GetTask answer the client takes (gRPC's receive limit; grpc's default is 4 MiB). A larger one is
`C1ResponseTooLargeError`."""
MAX_ANSWER_BYTES: Final = 1024 * 1024
"""The largest answer to Hello, Heartbeat, FinishTask and UploadAsset the client takes (a per-method gRPC receive limit,
set through the channel's service config). Those answers hold annotations and a few scalars (spec §2.2): a few hundred
bytes. Under the GetTask limit, a hostile or broken ConductorOne's 32 MiB answer to every heartbeat of 100 running
tasks was 3 GiB at once, against the chart's 1 GiB. A larger one is `C1ResponseTooLargeError`, as for GetTask."""
_SERVICE = "c1.connectorapi.baton.v1.BatonService"
_SMALL_ANSWERS: Final = ("Hello", "Heartbeat", "FinishTask", "UploadAsset")
# grpc's own text when a message is over a receive limit: "Received message larger than max (N vs. M)", after
# "CLIENT: " when our end refused it. Naming the call's limit, an answer was over it (`C1ResponseTooLargeError`);
# naming another, or said by a server (grpc's Python server writes "SERVER: ", Go's "grpc: "), the server refused our
# request as over its own (`C1RequestTooLargeError`).
_TOO_LARGE = re.compile(
    r"(client: |server: |grpc: )?received message larger than max \((\d{1,19}) vs\. (\d{1,19})\)", re.IGNORECASE
)

_STATUS_DETAILS_KEY = "grpc-status-details-bin"
_RETRY_INFO = error_details_pb2.RetryInfo

_Response = TypeVar("_Response")
_Metadata = tuple[tuple[str, str], ...]

log = structlog.get_logger(__name__)


class _NoDecodeTraceback(logging.Filter):
    """grpc logs an undecodable answer at error with a traceback of its parser; `_call` turns it into a clear error
    naming the RPC, which its caller retries and logs at warning, so the record keeps only its one line (peer input
    never produces a traceback), at warning too: an error line is a task ConductorOne will never hear of, and this
    one, naming neither an RPC nor a task, would page as one.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and "deserializ" in record.getMessage().lower():
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


logging.getLogger("grpc._common").addFilter(_NoDecodeTraceback())


@dataclass(frozen=True, slots=True)
class CallTimeouts:
    """Per-call deadlines in seconds (None: no deadline). Go sets only FinishTask's (30 s); a daemon that
    must not hang forever on a half-open connection wants one on every call.
    """

    hello: float | None = 60.0
    get_task: float | None = 60.0
    heartbeat: float | None = 30.0
    finish_task: float | None = 30.0
    upload_attempt: float | None = 1800.0
    """For one whole UploadAsset stream, so it bounds the size of c1z a slow link can carry."""
    upload_stall: float | None = 120.0
    """For each message of an UploadAsset stream to be taken (a 512 KiB chunk: at least ~4 KB/s), and for the answer
    after the stream's end. A peer that stops reading blocks our writes once its flow-control window is full, and
    one that took the whole asset may never answer; this ends the attempt then, not at `upload_attempt` (three
    attempts held a sync task, and its slot, for 90 minutes while its heartbeats went on)."""


@dataclass(frozen=True, slots=True)
class RpcResult:
    """What the `on_call` hook hears after every RPC attempt (for metrics)."""

    method: str
    code: str
    """grpc status code name, `OK` on success."""
    seconds: float
    too_large: bool = False
    """The answer was over the receive limit (`code` is RESOURCE_EXHAUSTED)."""
    partly_read: bool = False
    """The answer did not decode whole, and the parts that did were read (`salvage.PartlyRead`; `code` is OK)."""


def grpc_proxy_from_env(endpoints: C1Endpoints) -> str | None:
    """The proxy for the gRPC channel (`proxy=`): the one the token endpoint's httpx client takes for the same host.

    One set of rules for the three connections (Datadog, the token endpoint, the channel), httpx's: HTTPS_PROXY /
    ALL_PROXY in any letter case (a lower-case name wins, an empty one unsets), NO_PROXY / no_proxy entries as
    httpx reads them (`*`, a host and its subdomains, `.host` for subdomains only, `host:port`, IP addresses), with
    the forms of Go's reading that httpx's misses (`host:443` for `https://host`, `*.host`, networks: `proxyenv`).
    grpc's own reading differs (lower-case names only, `http_proxy` for an https target, `grpc_proxy`, no
    ALL_PROXY, its own NO_PROXY matching), and the token request and the channel took different routes; the client
    turns grpc's reading off (`proxy=None` is a direct channel). httpx has no public accessor for this decision:
    its own environment reader and URL patterns are used, as its client does when it is built (given the same
    `proxyenv` mounts).
    """
    target = httpx.URL(f"https://{endpoints.grpc_authority}")
    patterns = sorted((URLPattern(key), proxy) for key, proxy in environment_proxies([str(target)]).items())
    for pattern, proxy in patterns:
        if pattern.matches(target):
            return proxy
    return None


def grpc_proxy_problem(endpoints: C1Endpoints) -> str | None:
    """What is wrong with the proxy the environment gives the gRPC channel (`grpc_proxy_from_env`), or None.

    httpx carries the token request through an https:// proxy, but grpc speaks plain CONNECT only and, given one,
    logs a line of its own and connects directly, past the proxy the operator set. The value is not repeated: a proxy
    URL may carry a password.
    """
    proxy = grpc_proxy_from_env(endpoints)
    if proxy is not None and urlsplit(proxy).scheme.lower() != "http":
        return (
            f"environment HTTPS_PROXY / ALL_PROXY: the proxy for ConductorOne ({endpoints.grpc_authority}) is not an "
            "http:// proxy, and the gRPC channel can only use one (plain HTTP CONNECT); use http://host:port, or "
            "name the ConductorOne host in NO_PROXY"
        )
    return None


class BatonServiceClient:
    """Async client of `c1.connectorapi.baton.v1.BatonService`. Use it from one event loop; close it when done.

    `host_id` goes on every request (callers pass BATON_HOST_ID or the hostname; see
    `hostinfo.default_host_id`). `api_host` is the BATON_C1_API_HOST value, if any. `root_certificates`
    (PEM) replaces grpc's trust roots; see `grpc_root_certificates`. `proxy` (an http:// URL) sends the
    channel through an HTTP CONNECT proxy, None connects directly whatever the environment says; see
    `grpc_proxy_from_env`.
    """

    def __init__(
        self,
        *,
        client_id: ClientId,
        token_source: TokenSource,
        host_id: str,
        api_host: str | None = None,
        root_certificates: bytes | None = None,
        proxy: str | None = None,
        timeouts: CallTimeouts | None = None,
        channel_options: Sequence[tuple[str, int | str]] = (),
        upload_retry: RetryPolicy = UPLOAD_RETRY,
        on_call: Callable[[RpcResult], None] | None = None,
        owns_token_source: bool = False,
        max_receive_bytes: int = MAX_RECEIVE_MESSAGE_BYTES,
    ) -> None:
        if not 1 <= len(host_id) <= hostinfo.MAX_FIELD_LENGTH:
            raise ValueError(f"host_id must be 1..{hostinfo.MAX_FIELD_LENGTH} characters")
        self.endpoints: C1Endpoints = resolve_endpoints(client_id, api_host)
        self.host_id = host_id
        self.tokens = token_source
        self.user_agent = f"{client_id.client_name} baton-sdk/{BATON_SDK_VERSION}"
        self.timeouts = timeouts or CallTimeouts()
        self._root_certificates = root_certificates
        self._channel_options: list[tuple[str, int | str]] = [
            *DEFAULT_CHANNEL_OPTIONS,
            ("grpc.max_receive_message_length", max_receive_bytes),
            ("grpc.service_config", _answer_limits_config(min(max_receive_bytes, MAX_ANSWER_BYTES))),
            ("grpc.primary_user_agent", self.user_agent),
            # Only the proxy given: grpc would otherwise pick one from the environment by rules of its own.
            ("grpc.http_proxy", proxy) if proxy else ("grpc.enable_http_proxy", 0),
            *channel_options,
        ]
        # Named in a network failure: through a proxy the channel connects to the proxy alone, so a refused
        # connection or a failed lookup is the proxy's, not ConductorOne's.
        self._proxy_address = proxy_url_address(proxy) if proxy else None
        self.max_task_bytes = held_bytes(max_receive_bytes, MAX_ITEMS)
        """About the most a poll's answer may hold in memory once decoded (the scheduler's memory budget reserves it):
        the largest answer taken, holding the most messages the client decodes (`salvage.MAX_ITEMS`)."""
        self._max_receive_bytes = max_receive_bytes
        self._answer_limits = {method: min(max_receive_bytes, MAX_ANSWER_BYTES) for method in _SMALL_ANSWERS}
        # Why GetTask answers did not decode whole, each said once at warning (`get_task`), the last ones kept.
        self._partly_read_told: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._upload_retry = upload_retry
        self._on_call = on_call
        self._owns_token_source = owns_token_source
        self._channel: grpc.aio.Channel | None = None
        self._stub: baton_pb2_grpc.BatonServiceAsyncStub | None = None
        self._early_token: asyncio.Task[AccessToken] | None = None
        """The fetch `warm_up` started, until the first call takes it over (its failure is that call's)."""
        # GetTask's answer as bytes: `salvage` reads what it can of one that does not decode whole.
        self._raw_get_task: grpc.aio.UnaryUnaryMultiCallable | None = None

    @classmethod
    def from_credentials(
        cls,
        client_id: ClientId,
        secret: ClientSecret,
        *,
        host_id: str,
        api_host: str | None = None,
        root_certificates: bytes | None = None,
        proxy: str | None = None,
        token_verify: ssl.SSLContext | None = None,
        token_timeout: float = 60.0,
        on_call: Callable[[RpcResult], None] | None = None,
        on_token_fetch: Callable[[TokenFetch], None] | None = None,
        on_token: Callable[[str], None] | None = None,
        upload_retry: RetryPolicy = UPLOAD_RETRY,
    ) -> BatonServiceClient:
        """A client with its own token source, closed along with it."""
        tokens = TokenSource(
            client_id,
            secret,
            api_host=api_host,
            verify=token_verify,
            timeout=token_timeout,
            on_fetch=on_token_fetch,
            on_token=on_token,
        )
        return cls(
            client_id=client_id,
            token_source=tokens,
            host_id=host_id,
            api_host=api_host,
            root_certificates=root_certificates,
            proxy=proxy,
            on_call=on_call,
            upload_retry=upload_retry,
            owns_token_source=True,
        )

    def __repr__(self) -> str:
        return f"BatonServiceClient(target={self.endpoints.grpc_target!r}, host_id={self.host_id!r})"

    async def __aenter__(self) -> BatonServiceClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def warm_up(self) -> None:
        """Start, in the background, what the first call waits for: the channel's connection (TCP, TLS, HTTP/2)
        and an access token. The service calls it before its other start-up work (the connector's check), so the
        Hello after it takes one round trip. The first call waits for this token fetch and fails with its error,
        as it would have fetched; a channel that could not connect fails the call as it would have."""
        self._ensure_stub()
        assert self._channel is not None
        self._channel.get_state(try_to_connect=True)
        if self._early_token is None:
            self._early_token = asyncio.create_task(self.tokens.token())

    async def close(self) -> None:
        early, self._early_token = self._early_token, None
        if early is not None:
            early.cancel()
            await asyncio.wait([early])  # never raises
            failure = None if early.cancelled() else early.exception()  # retrieved: asyncio would log it otherwise
            if failure is not None:
                # No call took this fetch over (the service stopped during its start-up check): no loop logged its
                # failure, which was then in no line at info level (the token source's own line is at debug).
                self.tokens.log_unheard_failure(failure, "no call was made with it")
        if self._channel is not None:
            channel, self._channel, self._stub, self._raw_get_task = self._channel, None, None, None
            await channel.close()
        if self._owns_token_source:
            await self.tokens.aclose()

    # ---- RPCs -------------------------------------------------------------------------------------------

    async def hello(
        self,
        connector_metadata: connector_pb2.ConnectorMetadata,
        *,
        task_id: str = "",
        build_info: baton_pb2.BatonServiceHelloRequest.BuildInfo | None = None,
        awaiting: Callable[[bool], None] | None = None,
    ) -> baton_pb2.BatonServiceHelloResponse:
        """Startup Hello (empty `task_id`) or the answer to a `hello` task (its id). The OS info is this host's, and the
        build info defaults to this program's (`hostinfo`); C1 rejects a Hello with empty OS fields. `awaiting` hears whether a Hello of it
        is out and unanswered, as `finish_task`'s does: a hello task's Hello cut then may have landed.
        """
        if task_id:
            _check_task_id(task_id)
        if not 1 <= len(connector_metadata.display_name) <= 1024:
            raise ValueError("connector_metadata.display_name is required (1..1024 characters)")
        # It reads /etc/os-release and stats two files: file IO, kept off the event loop (a hung mount there would
        # stop health checks and every task, not only this Hello).
        os_info = await asyncio.to_thread(hostinfo.os_info)
        request = baton_pb2.BatonServiceHelloRequest(
            host_id=self.host_id,
            task_id=task_id,
            build_info=build_info or hostinfo.build_info(),
            os_info=os_info,
            connector_metadata=connector_metadata,
        )
        stub = self._ensure_stub()
        response: baton_pb2.BatonServiceHelloResponse = await self._call(
            "Hello",
            lambda md: _told_while_out(stub.Hello(request, metadata=md, timeout=self.timeouts.hello), awaiting),
        )
        return response

    async def get_task(
        self, *, on_answer: Callable[[int], None] | None = None
    ) -> baton_pb2.BatonServiceGetTaskResponse:
        """One poll. An unset `task` or a `none` task means no work; `next_poll` paces the next call (§3.2).

        `on_answer` hears about what the answer holds in memory once decoded (`salvage.held_bytes`: its size, and the
        parser's cost of each of its messages; at most `max_task_bytes`), which the task read from it keeps until it
        ends (the scheduler's budget of task bytes counts it).

        An answer that does not decode whole is read as far as it goes (`salvage`): what decodes is returned (with
        a warning), a task known only by its id is `C1UnreadableTaskError`. So is a task too costly to decode (a map
        of more than `salvage.MAX_MAP_ENTRIES` entries, more than `salvage.MAX_ITEMS` messages and list items).
        """
        request = baton_pb2.BatonServiceGetTaskRequest(host_id=self.host_id)
        self._ensure_stub()

        async def attempt(md: _Metadata) -> baton_pb2.BatonServiceGetTaskResponse | PartlyRead | UnreadableTask | None:
            assert self._raw_get_task is not None
            raw: bytes = await self._raw_get_task(request, metadata=md, timeout=self.timeouts.get_task)
            weight = None
            if len(raw) > SCAN_ABOVE_BYTES:
                # Weighed before the parser sees it, off the loop: the parser holds the GIL for a whole decode, and a
                # task holding a map of millions of entries held the loop for seconds, minutes once copied
                # (`salvage.weigh`).
                weight = await asyncio.to_thread(weigh, raw)
            if on_answer is not None:
                on_answer(held_bytes(len(raw), weight.items if weight is not None else None))
            if weight is not None and weight.problem is not None:
                return await asyncio.to_thread(salvage, raw, weight.problem, decode_task=False)
            decoded = decode_get_task(raw)
            if isinstance(decoded, str):
                # Off the loop: the walk of an answer of millions of fields held /healthz, heartbeats and reports
                # for seconds (about 13 s of CPU at the receive limit).
                return await asyncio.to_thread(salvage, raw, decoded)
            return decoded

        answer: baton_pb2.BatonServiceGetTaskResponse | PartlyRead | UnreadableTask = await self._call(
            "GetTask", attempt
        )
        if isinstance(answer, UnreadableTask):
            raise C1UnreadableTaskError(
                f"GetTask: ConductorOne's {answer.task_type or 'task'} could not be decoded ({answer.problem})",
                task_id=answer.task_id,
                task_type=answer.task_type,
                problem=answer.problem,
                next_poll=answer.next_poll,
            )
        if isinstance(answer, PartlyRead):
            # Once per cause at warning, then at debug (each one is counted: `RpcResult.partly_read`): an idle answer
            # that never decodes whole (a `none` task with a bad annotation) comes back at every poll, and a warning
            # each time flooded the log every poll interval for as long as ConductorOne sent it.
            told = answer.problem in self._partly_read_told
            self._partly_read_told[answer.problem] = None
            self._partly_read_told.move_to_end(answer.problem)
            if len(self._partly_read_told) > _PARTLY_READ_REMEMBERED:
                self._partly_read_told.popitem(last=False)
            (log.debug if told else log.warning)(
                "ConductorOne's GetTask answer did not decode whole; reading the parts that do",
                problem=answer.problem,
                has_task=answer.response.HasField("task"),
            )
            return answer.response
        return answer

    async def heartbeat(self, task_id: str) -> baton_pb2.BatonServiceHeartbeatResponse:
        """Keep a running task claimed; `cancelled` in the answer means stop it (§3.6)."""
        _check_task_id(task_id)
        request = baton_pb2.BatonServiceHeartbeatRequest(host_id=self.host_id, task_id=task_id)
        stub = self._ensure_stub()
        response: baton_pb2.BatonServiceHeartbeatResponse = await self._call(
            "Heartbeat", lambda md: stub.Heartbeat(request, metadata=md, timeout=self.timeouts.heartbeat)
        )
        return response

    async def finish_task(
        self,
        task_id: str,
        *,
        response: Message | None = None,
        error: status_pb2.Status | None = None,
        non_retryable: bool = False,
        annotations: Sequence[any_pb2.Any] = (),
        awaiting: Callable[[bool], None] | None = None,
    ) -> baton_pb2.BatonServiceFinishTaskResponse:
        """Report a task's outcome (§3.5).

        Success: leave `error` unset; `response` (a connector response, packed into Any unless it already is
        one) and `annotations` go into `success`, and `status` stays unset. Failure: pass `error` (a
        google.rpc.Status with a non-OK code); it becomes `status`, and `error{non_retryable, annotations}` is
        the final state. The deadline (30 s) is the call's own: a caller whose task was cancelled should
        still be able to send this, so it should not cancel the awaiting coroutine. `awaiting` hears whether a
        FinishTask of it is out and unanswered (True as each goes out, False once answered): one cut then may have
        landed.
        """
        _check_task_id(task_id)
        request = baton_pb2.BatonServiceFinishTaskRequest(host_id=self.host_id, task_id=task_id)
        checked_annotations = _check_annotations(annotations)
        if error is not None:
            if response is not None:
                raise ValueError("a failed task carries no response (Go never sets error.response)")
            if error.code == 0:
                raise ValueError("an error status needs a non-OK code")
            request.status.CopyFrom(error)
            request.error.non_retryable = non_retryable
            request.error.annotations.extend(checked_annotations)
        else:
            if non_retryable:
                raise ValueError("non_retryable only applies to a failed task")
            request.success.annotations.extend(checked_annotations)
            if response is not None:
                request.success.response.CopyFrom(_to_any(response))
        stub = self._ensure_stub()

        result: baton_pb2.BatonServiceFinishTaskResponse = await self._call(
            "FinishTask",
            lambda md: _told_while_out(
                stub.FinishTask(request, metadata=md, timeout=self.timeouts.finish_task), awaiting
            ),
        )
        return result

    async def upload_asset(self, task_id: str, path: str | os.PathLike[str]) -> int:
        """Stream a file with UploadAsset (§3.7) and return the number of bytes sent (the file's size).

        metadata, then `UPLOAD_CHUNK_SIZE` (512 KiB) data messages, then eof with the raw SHA-256 of what was
        sent. The file is read chunk by chunk, so memory does not grow with its size. Transient failures are
        retried under `upload_retry` (default: 3 attempts in all, 1 s base backoff); each re-reads the file from
        the start.
        """
        _check_task_id(task_id)
        metadata_message = baton_pb2.BatonServiceUploadAssetRequest(
            metadata=baton_pb2.BatonServiceUploadAssetRequest.UploadMetadata(host_id=self.host_id, task_id=task_id)
        )
        backoff = Backoff(self._upload_retry)
        while True:
            try:
                sent: int = await self._call(
                    "UploadAsset", lambda md: self._upload_once(metadata_message, Path(path), md)
                )
            except C1Error as exc:
                # A token endpoint refusing the refresh mid-run (a 400 or a 401 passing by, credentials being rotated),
                # or the upload refusing the fresh token `_call` fetched after a first refusal (a clock stepped, an
                # auth service mid-deploy), is retried as a report's is: it failed a whole sync, already built, on one
                # answer.
                passing = isinstance(exc, C1TransientError | C1AuthError) or exc.code == grpc.StatusCode.UNAUTHENTICATED
                if not passing:
                    raise
                delay = backoff.next_delay(exc.retry_after)
                if delay is None:
                    raise
                # With the error: the code alone (none when the token request failed) said nothing of why, and the
                # attempts' causes were in no line.
                log.warning(
                    "c1 upload attempt failed, retrying",
                    task_id=task_id,
                    attempt=backoff.failures,
                    code=exc.code.name if exc.code else None,
                    retry_in=round(delay, 3),
                    error=str(exc),
                )
                await asyncio.sleep(delay)
            else:
                return sent

    # ---- plumbing ---------------------------------------------------------------------------------------

    def _ensure_stub(self) -> baton_pb2_grpc.BatonServiceAsyncStub:
        # Made on first use so the channel binds to the loop that runs the calls.
        if self._stub is None:
            credentials = grpc.ssl_channel_credentials(root_certificates=self._root_certificates)
            self._channel = grpc.aio.secure_channel(
                self.endpoints.grpc_target, credentials, options=self._channel_options
            )
            # The generated stub's overloads cannot see an aio channel (grpc is untyped here).
            self._stub = cast("baton_pb2_grpc.BatonServiceAsyncStub", baton_pb2_grpc.BatonServiceStub(self._channel))
            self._raw_get_task = self._channel.unary_unary(
                "/c1.connectorapi.baton.v1.BatonService/GetTask",
                request_serializer=baton_pb2.BatonServiceGetTaskRequest.SerializeToString,
                response_deserializer=None,
            )
        return self._stub

    async def _call(self, method: str, attempt: Callable[[_Metadata], Awaitable[_Response | None]]) -> _Response:
        """Run one RPC attempt with a token; on UNAUTHENTICATED drop that token and try once more."""
        carried: list[str] = []  # the tokens this call's attempts carried: never quoted back, however old
        for auth_retry in (False, True):
            early, self._early_token = self._early_token, None
            if early is not None:
                await early  # its failure is this call's; its token is the source's cached one
            token = await self.tokens.token()
            carried.append(token.value)
            started = time.monotonic()
            # Read before the call as well as after: a peer's GOAWAY (a graceful stop, a load balancer's connection
            # age) while it held the call leaves the channel IDLE by the time the call fails.
            connected = self._connected()
            try:
                result = await attempt((("authorization", token.authorization),))
            except grpc.aio.AioRpcError as exc:
                code: grpc.StatusCode = exc.code()
                details = self.tokens.redact(exc.details() or "", carried)
                found = _TOO_LARGE.search(details) if code == grpc.StatusCode.RESOURCE_EXHAUSTED else None
                limit = self._answer_limits.get(method, self._max_receive_bytes)
                too_large = (
                    found is not None
                    and int(found[3]) == limit
                    and (found[1] or "").lower() not in ("server: ", "grpc: ")
                )
                self._observe(method, code.name, started, too_large=too_large)
                if found is not None and too_large:
                    raise C1ResponseTooLargeError(
                        f"{method}: ConductorOne's answer of {int(found[2])} bytes is over the client's "
                        f"{limit}-byte gRPC message limit for it; it was refused (RESOURCE_EXHAUSTED)",
                        method=method,
                        limit=limit,
                    ) from None
                if found is not None:
                    # The server's own limit, which our request is over: its words, in the same shape.
                    raise C1RequestTooLargeError(
                        f"{method}: ConductorOne refused the request of {int(found[2])} bytes as over its "
                        f"{int(found[3])}-byte gRPC message limit (RESOURCE_EXHAUSTED)",
                        method=method,
                        limit=int(found[3]),
                    ) from None
                if code == grpc.StatusCode.UNAUTHENTICATED and not auth_retry:
                    self.tokens.invalidate(token)
                    log.info("c1 rejected the access token, fetching a new one", method=method)
                    continue
                error_class = classify_status(code)
                log.debug("c1 call failed", method=method, code=code.name, details=details)
                raise error_class(
                    self._describe(method, code, details, time.monotonic() - started, connected),
                    code=code,
                    method=method,
                    retry_after=_retry_after(exc),
                    may_have_landed=answer_lost(code, details, peer_status=_peer_status(exc), connected=connected),
                ) from None
            except Exception as exc:
                if not type(exc).__module__.startswith("grpc"):
                    raise
                # grpc could not even start the call (its own exception type, no status: e.g. a metadata value
                # its core refuses). Still one of our errors naming the RPC, so every loop above handles it.
                self._observe(method, "INTERNAL", started)
                log.debug("c1 call could not be made", method=method, error_type=type(exc).__name__)
                raise C1TransientError(
                    f"{method}: the call could not be made ({type(exc).__name__})",
                    code=grpc.StatusCode.INTERNAL,
                    method=method,
                ) from None
            if result is None:
                # grpc.aio hands back None (after logging) when the answer does not decode as the response type.
                self._observe(method, "INTERNAL", started)
                raise C1UnreadableAnswerError(self._undecodable(method), code=grpc.StatusCode.INTERNAL, method=method)
            self._observe(method, "OK", started, partly_read=isinstance(result, PartlyRead))
            return result
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _undecodable(method: str) -> str:
        return f"{method}: ConductorOne's response could not be decoded as {method}Response (INTERNAL)"

    def _describe(self, method: str, code: grpc.StatusCode, details: str, elapsed: float, connected: bool) -> str:
        """The message of a failed call: the RPC, the code, and for a network failure the host and the cause.
        `elapsed`: the seconds from the call's start to its failure; `connected`: whether the channel held a made
        connection when the call went out."""
        if code == grpc.StatusCode.DEADLINE_EXCEEDED and _STALLED_DETAILS.fullmatch(details):
            return f"{method}: ConductorOne at {self.endpoints.grpc_authority} {details} ({code.name})"
        deadline = getattr(self.timeouts, _DEADLINES.get(method, ""), None)
        if code == grpc.StatusCode.DEADLINE_EXCEEDED and details == "Deadline Exceeded":
            if not isinstance(deadline, int | float) or elapsed < deadline * _DEADLINE_REACHED:
                # A server's own DEADLINE_EXCEEDED in grpc's words (its backend's timeout, passed on), answered before
                # our deadline: its words, not a silence that never happened.
                return f"{method}: {code.name}: {details}"
            if connected or self._connected():
                # The connection was made (TLS and HTTP/2 settings done), the call went out, and no answer came in its
                # deadline. Said as "unreachable: timed out", the operator looked at routes and firewalls for a peer
                # that held the call.
                return (
                    f"{method}: ConductorOne at {self.endpoints.grpc_authority} took the call and gave no answer "
                    f"within {deadline:g}s ({code.name})"
                )
            # grpc was still making the connection when the call's deadline came, and it names no step then (a peer
            # that never took the TCP connection and one silent after it read alike): said as "unreachable: timed
            # out", it read as a failure to reach, not a connection not made in the call's time.
            through = f" through the proxy {self._proxy_address}" if self._proxy_address else ""
            return (
                f"{method}: the connection to ConductorOne at {self.endpoints.grpc_authority}{through} was not made "
                f"within {deadline:g}s (the TCP connection, the TLS handshake or the peer's HTTP/2 settings did not "
                f"come in that time) ({code.name})"
            )
        if code == grpc.StatusCode.UNAVAILABLE and lost_under_the_call(details):
            # The call went out and its connection was lost under it ("Stream removed (Socket closed)"): ConductorOne
            # may have taken it (`answer_lost`). Said as "unreachable", the operator looked at routes and firewalls
            # for a peer that had the call, and read a report that may have landed as one that never left.
            through = f" through the proxy {self._proxy_address}" if self._proxy_address else ""
            how = network_cause(details) or "the stream was reset"
            return (
                f"{method}: the connection to ConductorOne at {self.endpoints.grpc_authority}{through} was lost before "
                f"the answer came: {how} ({code.name})"
            )
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            cause = network_cause(details) or ("timed out" if code == grpc.StatusCode.DEADLINE_EXCEEDED else None)
            if cause is not None:
                cause = proxy_connect_failure(cause, self._proxy_address) or cause
                return f"{method}: ConductorOne at {self.endpoints.grpc_authority} unreachable: {cause} ({code.name})"
        if code == grpc.StatusCode.INTERNAL and details == _UNDECODABLE_DETAILS:
            # Our own words for an upload's OK whose answer did not decode (`_upload_once`). A server's "Exception
            # deserializing request!" (or "...response!") is its own failure, quoted below as its words.
            return self._undecodable(method)
        # Peer text is capped: a hostile server's megabyte of details must not flood a log line.
        return f"{method}: {code.name}: {details[:500]}"

    def _connected(self) -> bool:
        """Whether the channel holds a made connection (grpc's READY: TCP, TLS and the peer's HTTP/2 settings)."""
        channel = self._channel
        return channel is not None and channel.get_state(try_to_connect=False) == grpc.ChannelConnectivity.READY

    async def _upload_once(
        self, metadata_message: baton_pb2.BatonServiceUploadAssetRequest, path: Path, md: _Metadata
    ) -> int:
        # Opened before the call starts, so a missing file is an OSError and not a half-made upload.
        reader = await asyncio.to_thread(path.open, "rb")
        try:
            call = self._ensure_stub().UploadAsset(metadata=md, timeout=self.timeouts.upload_attempt)
            first_status: list[tuple[grpc.StatusCode, str, grpc.aio.Metadata] | None] = []
            call.add_done_callback(lambda done: first_status.append(_settled_status(done)))
            try:
                sent, complete = await self._stream_upload(call, metadata_message, reader)
            except BaseException:
                call.cancel()
                raise
            try:
                answer = await self._answer(call)
            except grpc.aio.AioRpcError as exc:
                raise _server_status(exc, first_status[0] if first_status else None) from None
            if answer is None:
                # grpc.aio hands back None when the OK's answer does not decode (as for every unary call, see
                # `_call`): a broken peer's OK is no proof the asset arrived.
                raise grpc.aio.AioRpcError(grpc.StatusCode.INTERNAL, details=_UNDECODABLE_DETAILS)
            if not complete:
                # An OK for a stream that never reached eof cannot mean the asset arrived whole.
                raise grpc.aio.AioRpcError(
                    grpc.StatusCode.DATA_LOSS, details="the server ended the upload before its end"
                )
            return sent
        finally:
            reader.close()

    async def _stream_upload(
        self,
        call: grpc.aio.StreamUnaryCall,
        metadata_message: baton_pb2.BatonServiceUploadAssetRequest,
        reader: io.BufferedReader,
    ) -> tuple[int, bool]:
        """Write the whole stream; returns the data bytes written and whether everything up to the half-close
        went out.
        """
        Request = baton_pb2.BatonServiceUploadAssetRequest
        digest = hashlib.sha256()
        sent = 0
        try:
            await self._write(call, metadata_message)
            while chunk := await asyncio.to_thread(reader.read, UPLOAD_CHUNK_SIZE):
                digest.update(chunk)
                await self._write(call, Request(data=Request.UploadData(data=chunk)))
                sent += len(chunk)
            await self._write(call, Request(eof=Request.UploadEOF(sha256_checksum=digest.digest())))
            await call.done_writing()
        except _UploadStalled:
            raise
        except (asyncio.InvalidStateError, grpc.aio.AioRpcError):
            # The server ended the call before we finished writing. grpc then fails the write with INTERNAL
            # ("Internal error from Core") or InvalidStateError; the server's own status only comes from
            # awaiting the call, which the caller does next.
            return sent, False
        return sent, True

    async def _write(self, call: grpc.aio.StreamUnaryCall, message: baton_pb2.BatonServiceUploadAssetRequest) -> None:
        """One message of an upload, taken within `upload_stall` (see CallTimeouts)."""
        stall = self.timeouts.upload_stall
        bound = asyncio.timeout(stall)  # None: no deadline, as CallTimeouts' None means
        try:
            async with bound:
                await call.write(message)
        except TimeoutError:
            if stall is None or not bound.expired():
                raise  # the call's own, not the stall bound's: it is not named as a stall
            # `_upload_once` cancels the call; this is what the attempt failed with (DEADLINE_EXCEEDED: retried).
            raise _UploadStalled(grpc.StatusCode.DEADLINE_EXCEEDED, details=_STALLED.format(f"{stall:g}")) from None

    async def _answer(self, call: grpc.aio.StreamUnaryCall) -> baton_pb2.BatonServiceUploadAssetResponse | None:
        """The upload's answer, given within `upload_stall` of the stream's end (see CallTimeouts)."""
        answer: baton_pb2.BatonServiceUploadAssetResponse | None
        stall = self.timeouts.upload_stall
        bound = asyncio.timeout(stall)  # None: no deadline
        try:
            async with bound:
                answer = await call
        except TimeoutError:
            if stall is None or not bound.expired():
                raise  # the call's own, not the stall bound's
            call.cancel()  # the attempt failed with this (DEADLINE_EXCEEDED: retried)
            raise _UploadStalled(grpc.StatusCode.DEADLINE_EXCEEDED, details=_UNANSWERED.format(f"{stall:g}")) from None
        return answer

    def _observe(
        self, method: str, code: str, started: float, *, too_large: bool = False, partly_read: bool = False
    ) -> None:
        seconds = time.monotonic() - started
        log.debug("c1 call", method=method, code=code, seconds=round(seconds, 3))
        if self._on_call is not None:
            self._on_call(
                RpcResult(method=method, code=code, seconds=seconds, too_large=too_large, partly_read=partly_read)
            )


_PARTLY_READ_REMEMBERED = 64
"""How many causes of GetTask answers not decoding whole are remembered as said (`get_task`)."""
_CORE_WRITE_FAILURE = "Internal error from Core"
_STALLED = "took no upload data for {} s"
_UNANSWERED = "gave no answer within {} s of the upload's end"
"""How `_UploadStalled`'s details read (`{}`: the bound); `_describe` words the error from them, only in these exact
shapes (a peer's DEADLINE_EXCEEDED may say anything)."""
# The share of its deadline a call must have run before its DEADLINE_EXCEEDED is taken as ours (grpc's clock starts a
# little after `_call`'s, so not the whole of it); sooner, a server sent the status.
_DEADLINE_REACHED = 0.9
# Each RPC's deadline in `CallTimeouts`, named in a call that went unanswered.
_DEADLINES = {
    "Hello": "hello",
    "GetTask": "get_task",
    "Heartbeat": "heartbeat",
    "FinishTask": "finish_task",
    "UploadAsset": "upload_attempt",
}
_STALLED_DETAILS = re.compile(
    "|".join(re.escape(shape).replace(r"\{\}", "[0-9.e+-]{1,24}") for shape in (_STALLED, _UNANSWERED))
)
_UNDECODABLE_DETAILS = "the response could not be deserialized"
"""Matched exactly by `_describe`, so the error is the one every undecodable answer gets."""


class _UploadStalled(grpc.aio.AioRpcError):  # type: ignore[misc]  # grpc ships no types
    """Our own end of an upload whose peer stopped taking data or gave no answer after its end: not a failure of the
    stream's write (which `_stream_upload` reads as the server having ended the call), the attempt's."""


def _settled_status(call: grpc.aio.Call) -> tuple[grpc.StatusCode, str, grpc.aio.Metadata] | None:
    """The status a finished call holds right now (code, details, trailers), read without yielding to the loop.

    Called from a done callback, which grpc runs synchronously the first time it sets the status, so this
    sees the first status even when grpc overwrites it a moment later (see `_server_status`).
    """
    # Runs inside grpc's status bookkeeping: nothing may escape from here.
    coroutines = (call.code(), call.details(), call.trailing_metadata())
    try:
        values = []
        for coroutine in coroutines:
            try:
                coroutine.send(None)
            except StopIteration as result:
                values.append(result.value)
            else:
                return None
        code, details, trailers = values
        return code, details or "", trailers if trailers is not None else grpc.aio.Metadata()
    except Exception:
        log.debug("could not read an upload's first status", exc_info=True)
    finally:
        for coroutine in coroutines:
            coroutine.close()
    return None


def _server_status(
    error: grpc.aio.AioRpcError, first: tuple[grpc.StatusCode, str, grpc.aio.Metadata] | None
) -> grpc.aio.AioRpcError:
    """The server's status of an upload it ended while we were still writing.

    grpc.aio then fails our pending write and records INTERNAL "Internal error from Core" as the call's
    status; when the server's status had arrived first, that overwrites it for good. Without the real code
    an UNAUTHENTICATED would not refresh the token and an INVALID_ARGUMENT would be retried as transient;
    without its trailers the retry delay ConductorOne asked for (`_retry_after`) was lost.
    """
    if (
        error.code() == grpc.StatusCode.INTERNAL
        and error.details() == _CORE_WRITE_FAILURE
        and first is not None
        and first[1] != _CORE_WRITE_FAILURE
    ):
        return grpc.aio.AioRpcError(first[0], error.initial_metadata(), first[2], first[1])
    return error


def _peer_status(error: grpc.aio.AioRpcError) -> bool:
    """Whether the status came with details (the `grpc-status-details-bin` trailer): the peer's own answer, which grpc
    never makes for a call it lost (`answer_lost`)."""
    try:
        return any(key == _STATUS_DETAILS_KEY for key, _ in error.trailing_metadata() or ())
    except (TypeError, ValueError):
        return False


def _retry_after(error: grpc.aio.AioRpcError) -> float | None:
    """The delay ConductorOne asked for before the next try: google.rpc.RetryInfo among the details of the status it
    sent (the `grpc-status-details-bin` trailer), clamped to [0, MAX_RETRY_AFTER]; None when it sent none, or
    anything that does not decode (the trailer is the peer's)."""
    try:
        trailers = error.trailing_metadata() or ()
        raw = next((value for key, value in trailers if key == _STATUS_DETAILS_KEY), None)
        if not isinstance(raw, bytes):
            return None
        status = status_pb2.Status.FromString(raw)
        for detail in status.details:
            info = _RETRY_INFO()
            if detail.Unpack(info):  # False: a detail of another type
                return clamped_seconds(info.retry_delay, low=0.0, high=MAX_RETRY_AFTER)
    except (DecodeError, ValueError, TypeError):
        return None
    return None


def _answer_limits_config(limit: int) -> str:
    """The channel's service config: `limit` bytes for the answers of the calls that carry only annotations."""
    names = [{"service": _SERVICE, "method": method} for method in _SMALL_ANSWERS]
    return json.dumps({"methodConfig": [{"name": names, "maxResponseMessageBytes": limit}]})


def task_id_problem(task_id: str) -> str | None:
    """What is wrong with a task id (docs/spec/service-mode.md §2.2: 27 ASCII letters or digits), or None."""
    if not task_id:
        return "the task id is empty"
    if len(task_id) != TASK_ID_LENGTH:
        return f"the task id has {len(task_id)} characters, expected {TASK_ID_LENGTH}"
    if not _TASK_ID.fullmatch(task_id):
        return "the task id has characters other than ASCII letters and digits"
    return None


def _check_task_id(task_id: str) -> None:
    problem = task_id_problem(task_id)
    if problem is not None:
        raise ValueError(f"task_id must be {TASK_ID_LENGTH} ASCII letters or digits: {problem}")


def _check_annotations(annotations: Sequence[any_pb2.Any]) -> Sequence[any_pb2.Any]:
    if len(annotations) > MAX_ANNOTATIONS:
        raise ValueError(f"at most {MAX_ANNOTATIONS} annotations")
    return annotations


def _to_any(message: Message) -> any_pb2.Any:
    if isinstance(message, any_pb2.Any):
        return message
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


__all__ = [
    "DEFAULT_CHANNEL_OPTIONS",
    "MAX_ANNOTATIONS",
    "MAX_ANSWER_BYTES",
    "MAX_RECEIVE_MESSAGE_BYTES",
    "MAX_RETRY_AFTER",
    "TASK_ID_LENGTH",
    "UPLOAD_CHUNK_SIZE",
    "UPLOAD_RETRY",
    "BatonServiceClient",
    "CallTimeouts",
    "RpcResult",
    "grpc_proxy_from_env",
    "grpc_proxy_problem",
    "grpc_root_certificates",
    "task_id_problem",
]


async def _told_while_out(call: Awaitable[_Response], awaiting: Callable[[bool], None] | None) -> _Response:
    """`call`'s answer; `awaiting` hears True as it goes out and False once it is answered, a refusal included. Only a
    cancellation (the stop deadline's cut) leaves it True: that report or Hello may have landed unanswered. Also when
    grpc was still making the connection as far as two looks at the channel can tell: a connection made during the
    call and lost to the peer's GOAWAY reads the same, and ConductorOne had the call (tests/independent/service4/
    test_landed_across_goaway.py). A report said `may_have_landed` that never left costs a look; the reverse, a
    report that landed said never sent, costs the truth."""
    if awaiting is not None:
        awaiting(True)
    try:
        answer = await call
    except asyncio.CancelledError:
        raise
    except BaseException:
        if awaiting is not None:
            awaiting(False)
        raise
    if awaiting is not None:
        awaiting(False)
    return answer
