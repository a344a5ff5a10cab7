"""The fake's BatonService: checks the bearer token and the §2.2 field rules on every call, serves the scripted
task queue and records what it received.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NoReturn

import grpc
import grpc.aio
from google.protobuf import duration_pb2
from google.protobuf.message import Message

from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2, baton_pb2_grpc
from tests.fakes.c1.state import CallRecord, FakeState, UploadRecord

MAX_DATA = 1024 * 1024
_TASK_ID = re.compile(r"[a-zA-Z0-9]{27}")
# Every OS field must be non-empty (C1 rejects a Hello otherwise): all of them, as the proto declares them.
_OS_FIELDS = tuple(f.name for f in baton_pb2.BatonServiceHelloRequest.OSInfo.DESCRIPTOR.fields)

Context = Any  # grpc.aio.ServicerContext; grpc ships no type information


class FakeBatonService(baton_pb2_grpc.BatonServiceServicer):
    def __init__(self, state: FakeState) -> None:
        self._state = state
        self._upload_numbers = itertools.count(1)

    async def Hello(
        self, request: baton_pb2.BatonServiceHelloRequest, context: Context
    ) -> baton_pb2.BatonServiceHelloResponse:
        record = await self._enter("Hello", context)
        await self._check_host_id(request.host_id, record, context)
        if request.task_id and not _TASK_ID.fullmatch(request.task_id):
            await _abort(context, record, grpc.StatusCode.INVALID_ARGUMENT, "task_id")
        if not request.HasField("connector_metadata") or not request.connector_metadata.display_name:
            await _abort(context, record, grpc.StatusCode.INVALID_ARGUMENT, "connector_metadata is required")
        empty = [name for name in _OS_FIELDS if not getattr(request.os_info, name)]
        if empty:
            await _abort(context, record, grpc.StatusCode.INVALID_ARGUMENT, f"empty os_info fields {empty}")
        self._state.record_hello(request)
        return baton_pb2.BatonServiceHelloResponse()

    async def GetTask(
        self, request: baton_pb2.BatonServiceGetTaskRequest, context: Context
    ) -> baton_pb2.BatonServiceGetTaskResponse:
        record = await self._enter("GetTask", context)
        await self._check_host_id(request.host_id, record, context)
        task = self._state.pop_task()
        response = baton_pb2.BatonServiceGetTaskResponse(
            next_poll=_duration(self._state.next_poll_seconds, self._state.raw_next_poll)
        )
        if task is not None:
            response.task.CopyFrom(task)
        elif self._state.idle_task == "none":
            response.task.none.SetInParent()
        return response

    async def GetTasks(
        self, request: baton_pb2.BatonServiceGetTasksRequest, context: Context
    ) -> baton_pb2.BatonServiceGetTasksResponse:
        # The daemon polls with GetTask, one task a poll (settings.SDK_ONLY_SETTINGS, "get_tasks"); a call means the
        # client is wrong.
        record = await self._enter("GetTasks", context)
        await _abort(context, record, grpc.StatusCode.UNIMPLEMENTED, "the connector polls with GetTask")

    async def Heartbeat(
        self, request: baton_pb2.BatonServiceHeartbeatRequest, context: Context
    ) -> baton_pb2.BatonServiceHeartbeatResponse:
        record = await self._enter("Heartbeat", context)
        await self._check_host_id(request.host_id, record, context)
        await self._check_task_id(request.task_id, record, context)
        self._state.record_heartbeat(request)
        return baton_pb2.BatonServiceHeartbeatResponse(
            next_heartbeat=_duration(self._state.next_heartbeat_seconds, self._state.raw_next_heartbeat),
            cancelled=self._state.is_cancelled(request.task_id),
        )

    async def FinishTask(
        self, request: baton_pb2.BatonServiceFinishTaskRequest, context: Context
    ) -> baton_pb2.BatonServiceFinishTaskResponse:
        self._state.record_finish_attempt(request)
        record = await self._enter("FinishTask", context)
        await self._check_host_id(request.host_id, record, context)
        await self._check_task_id(request.task_id, record, context)
        state = request.WhichOneof("final_state")
        if state is None:
            await _abort(context, record, grpc.StatusCode.INVALID_ARGUMENT, "final_state is required")
        if state == "success" and request.HasField("status"):
            await _abort(context, record, grpc.StatusCode.INVALID_ARGUMENT, "status is set on success")
        if state == "error" and (not request.HasField("status") or request.status.code == 0):
            await _abort(context, record, grpc.StatusCode.INVALID_ARGUMENT, "an error needs a non-OK status")
        if self._state.refuse_repeated_reports and self._state.is_reported(request.task_id):
            await _abort(context, record, grpc.StatusCode.FAILED_PRECONDITION, "the task is already finished")
        self._state.record_finish(request)
        return baton_pb2.BatonServiceFinishTaskResponse()

    async def UploadAsset(
        self, request_iterator: AsyncIterator[baton_pb2.BatonServiceUploadAssetRequest], context: Context
    ) -> baton_pb2.BatonServiceUploadAssetResponse:
        record = await self._enter("UploadAsset", context)
        if self._state.pop_stalled_upload():
            # Never reads: once its flow-control window is full, the client's writes wait (until it gives up).
            record.code = "STALLED"
            await asyncio.Event().wait()
        upload = UploadRecord()
        path = self._state.upload_dir / f"upload-{next(self._upload_numbers)}.bin"
        upload.path = path
        digest = hashlib.sha256()
        phase = "metadata"
        try:
            with path.open("wb") as sink:
                async for message in request_iterator:
                    kind = message.WhichOneof("msg")
                    if phase == "metadata":
                        if kind != "metadata":
                            raise _UploadError("the first message must be metadata")
                        upload.host_id, upload.task_id = message.metadata.host_id, message.metadata.task_id
                        if not 1 <= len(upload.host_id) <= 256 or not _TASK_ID.fullmatch(upload.task_id):
                            raise _UploadError("metadata host_id or task_id invalid")
                        phase = "data"
                        if self._state.pop_early_upload_ok():
                            upload.error = "answered OK before the data (scripted)"
                            self._state.record_upload(upload)
                            return baton_pb2.BatonServiceUploadAssetResponse()
                    elif phase == "data" and kind == "data":
                        chunk = message.data.data
                        if not 1 <= len(chunk) <= MAX_DATA:
                            raise _UploadError(f"data message of {len(chunk)} bytes")
                        sink.write(chunk)
                        digest.update(chunk)
                        upload.size += len(chunk)
                        upload.chunk_sizes.append(len(chunk))
                    elif phase == "data" and kind == "eof":
                        upload.received_sha256 = message.eof.sha256_checksum
                        phase = "done"
                    else:
                        raise _UploadError(f"unexpected {kind} message after {phase}")
            if phase != "done":
                raise _UploadError("the stream ended without eof")
            upload.computed_sha256 = digest.digest()
            if upload.received_sha256 != upload.computed_sha256:
                raise _UploadError("sha256 mismatch")
        except _UploadError as exc:
            upload.error = str(exc)
            upload.computed_sha256 = digest.digest()
            self._state.record_upload(upload)
            await _abort(context, record, grpc.StatusCode.INVALID_ARGUMENT, upload.error)
        upload.ok = True
        self._state.record_upload(upload)
        if self._state.pop_held_upload_answer():
            record.code = "HELD"
            await asyncio.Event().wait()
        return baton_pb2.BatonServiceUploadAssetResponse()

    async def StartDebugging(
        self, request: baton_pb2.StartDebuggingRequest, context: Context
    ) -> baton_pb2.StartDebuggingResponse:
        # The SDK never calls it (§3.8); a call means the client is wrong.
        record = await self._enter("StartDebugging", context)
        await _abort(context, record, grpc.StatusCode.UNIMPLEMENTED, "StartDebugging is not used by baton clients")

    async def _enter(self, method: str, context: Context) -> CallRecord:
        """Record the call, then apply outage, authentication and scripted failures in that order."""
        metadata = dict(context.invocation_metadata())
        authorization = str(metadata.get("authorization", ""))
        scheme, _, token = authorization.partition(" ")
        record = CallRecord(
            method=method,
            user_agent=str(metadata.get("user-agent", "")),
            authorization=scheme == "Bearer" and self._state.token_valid(token),
        )
        self._state.record_call(record)
        if self._state.outage() is not None:
            await _abort(context, record, grpc.StatusCode.UNAVAILABLE, "the fake is having an outage")
        if not record.authorization:
            await _abort(context, record, grpc.StatusCode.UNAUTHENTICATED, "missing, unknown or expired token")
        delay = self._state.pop_rpc_delay(method)
        if delay:
            await asyncio.sleep(delay)
        hold = self._state.pop_rpc_hold(method)
        if hold is not None:
            # Until the test releases it (a bound, so a test that never does cannot hang the fake's teardown).
            await asyncio.to_thread(hold.wait, HOLD_LIMIT_SECONDS)
        injected = self._state.pop_rpc_failure(method)
        if injected is not None:
            code, echo_tokens, status_details, message = injected
            # A hostile peer (or a proxy echoing requests) quoting bearer tokens, this call's and earlier ones.
            echoed = f"; tokens seen: {' '.join(self._state.issued_tokens())}" if echo_tokens else ""
            if echo_tokens == "own":  # a proxy echoing this request's headers: only the token it carried
                echoed = f"; authorization: {authorization}"
            if status_details is not None:
                context.set_trailing_metadata((("grpc-status-details-bin", status_details),))
            await _abort(context, record, code, f"{message or f'scripted {code.name}'}{echoed}")
        return record

    async def _check_host_id(self, host_id: str, record: CallRecord, context: Context) -> None:
        if not 1 <= len(host_id) <= 256:
            await _abort(context, record, grpc.StatusCode.INVALID_ARGUMENT, "host_id must be 1..256 characters")

    async def _check_task_id(self, task_id: str, record: CallRecord, context: Context) -> None:
        if not _TASK_ID.fullmatch(task_id):
            await _abort(context, record, grpc.StatusCode.INVALID_ARGUMENT, "task_id must be 27 alphanumerics")


HOLD_LIMIT_SECONDS = 60.0


class _UploadError(Exception):
    pass


async def _abort(context: Context, record: CallRecord, code: grpc.StatusCode, message: str) -> NoReturn:
    record.code = code.name
    await context.abort(code, message)
    raise AssertionError("context.abort returned")


def _duration(seconds: float, raw: tuple[int, int] | None = None) -> duration_pb2.Duration:
    if raw is not None:
        return duration_pb2.Duration(seconds=raw[0], nanos=raw[1])
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(int(seconds * 1e9))
    return duration


GARBAGE = b"\x0a\xff\xff\xff\xff\x07"
"""Field 1, length-delimited, claiming far more bytes than follow: no parser accepts it."""


class RawAnswers(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no types
    """Answers a scripted BatonService method OK with scripted bytes as its response (no valid message, a message
    no parser of ours accepts: a hostile or broken server). Methods without a script go on to the real servicer.
    """

    _PREFIX = "/c1.connectorapi.baton.v1.BatonService/"

    def __init__(self, state: FakeState) -> None:
        self._state = state

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = str(handler_call_details.method)
        name = method[len(self._PREFIX) :] if method.startswith(self._PREFIX) else ""
        if name in ("FinishTask", "Hello") and (taken := self._state.pop_taken_then_raw(name)) is not None:
            state = self._state

            async def take_then_answer(request: bytes, context: Context) -> bytes:
                # Recorded as the servicer records what it accepts; then answered with the scripted bytes.
                if name == "FinishTask":
                    report = baton_pb2.BatonServiceFinishTaskRequest.FromString(request)
                    state.record_finish_attempt(report)
                    state.record_finish(report)
                else:
                    state.record_hello(baton_pb2.BatonServiceHelloRequest.FromString(request))
                return taken

            return grpc.unary_unary_rpc_method_handler(
                take_then_answer, request_deserializer=lambda raw: raw, response_serializer=lambda raw: raw
            )
        if name in ("FinishTask", "Hello") and self._state.pop_taken_then_cut(name):
            cut_state = self._state

            async def take_then_cut(request: Message, context: Context) -> Message:
                # Recorded as the servicer records what it accepts; then every connection is cut before the answer
                # goes out (a ConductorOne pod killed, a load balancer reset, right after the call was handled).
                if name == "FinishTask":
                    assert isinstance(request, baton_pb2.BatonServiceFinishTaskRequest)
                    cut_state.record_finish_attempt(request)
                    cut_state.record_finish(request)
                else:
                    assert isinstance(request, baton_pb2.BatonServiceHelloRequest)
                    cut_state.record_hello(request)
                assert cut_state.cut_connections is not None
                cut_state.cut_connections()
                await asyncio.sleep(HOLD_LIMIT_SECONDS)  # never answered: its connection is gone
                return request

            request_type = getattr(baton_pb2, f"BatonService{name}Request")
            return grpc.unary_unary_rpc_method_handler(
                take_then_cut,
                request_deserializer=request_type.FromString,
                response_serializer=lambda message: message.SerializeToString(),
            )
        if name and (flood := self._state.pop_metadata_flood(name)) is not None:
            handler = await continuation(handler_call_details)
            return _with_metadata_flood(handler, *flood)
        body = self._state.pop_raw_answer(method[len(self._PREFIX) :]) if method.startswith(self._PREFIX) else None
        if body is None:
            return await continuation(handler_call_details)

        if method.endswith("/UploadAsset"):

            async def read_then_answer(requests: AsyncIterator[bytes], context: Context) -> bytes:
                async for _ in requests:
                    pass
                return body

            return grpc.stream_unary_rpc_method_handler(
                read_then_answer, request_deserializer=lambda raw: raw, response_serializer=lambda raw: raw
            )

        async def answer(request: bytes, context: Context) -> bytes:
            return body

        return grpc.unary_unary_rpc_method_handler(
            answer, request_deserializer=lambda raw: raw, response_serializer=lambda raw: raw
        )


def _with_metadata_flood(handler: grpc.RpcMethodHandler, entries: int, trailer_bytes: int) -> grpc.RpcMethodHandler:
    """A unary handler answering as `handler` does, with `entries` initial metadata entries and a trailer of
    `trailer_bytes` bytes besides."""
    inner = handler.unary_unary

    async def flooded(request: Message, context: Context) -> Message:
        answer: Message = await inner(request, context)
        if entries:
            await context.send_initial_metadata([(f"x-flood-{n}", "v") for n in range(entries)])
        if trailer_bytes:
            context.set_trailing_metadata([("x-flood", "t" * trailer_bytes)])
        return answer

    return grpc.unary_unary_rpc_method_handler(
        flooded,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
