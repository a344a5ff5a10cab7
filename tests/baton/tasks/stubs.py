"""Scripted stand-ins for the control-plane tests: a BatonService client, a connector and an observer.

In-process and fast: no server, no network. The client answers each RPC from a script (an exception to raise,
or a response) and records what it was asked; a script running dry answers success.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2

from connector.baton.c1.client import MAX_RECEIVE_MESSAGE_BYTES, BatonServiceClient
from connector.baton.connector import AccountInfo, Connector, CreateAccountResult, GrantResult
from connector.baton.pb.c1.connector.v2 import connector_pb2, entitlement_pb2, grant_pb2, resource_pb2
from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from connector.baton.retry import RetryPolicy
from connector.baton.tasks.full_sync import FullSyncHandler
from connector.baton.tasks.handlers import Handlers
from connector.baton.tasks.outcome import Outcome
from connector.baton.tasks.processor import HelloCall, TaskProcessor

INSTANT = RetryPolicy(base_delay=0.0005, max_delay=0.002)
"""The production policies' shape with delays a test does not wait for."""


@dataclass
class Finish:
    task_id: str
    ok: bool
    code: int
    message: str
    non_retryable: bool
    annotations: int
    response: Message | None
    annotation_types: tuple[str, ...]


@dataclass
class StubClient:
    """Answers FinishTask, GetTask, Heartbeat and Hello from per-method scripts."""

    finish_script: deque[BaseException | None] = field(default_factory=deque)
    poll_script: deque[BaseException | baton_pb2.BatonServiceGetTaskResponse] = field(default_factory=deque)
    heartbeat_script: deque[BaseException | baton_pb2.BatonServiceHeartbeatResponse] = field(default_factory=deque)
    finishes: list[Finish] = field(default_factory=list)
    finish_attempts: int = 0
    finish_gate: asyncio.Event | None = None
    """When set, every FinishTask waits for it (a ConductorOne that does not answer)."""
    unsent_gate: asyncio.Event | None = None
    """When set, FinishTask attempts from the `unsent_gate_from`th on wait for it before they go out (a token that does
    not come)."""
    unsent_gate_from: int = 1
    polls: int = 0
    heartbeats: int = 0
    polled: asyncio.Event = field(default_factory=asyncio.Event)
    max_task_bytes: int = MAX_RECEIVE_MESSAGE_BYTES
    _attempted: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def wait_finish_attempts(self, count: int) -> None:
        async with self._attempted:
            await self._attempted.wait_for(lambda: self.finish_attempts >= count)

    def as_client(self) -> BatonServiceClient:
        return cast(BatonServiceClient, self)

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
        self.finish_attempts += 1
        if self.unsent_gate is not None and self.finish_attempts >= self.unsent_gate_from:
            # Held before it goes out, as the real client's call waiting for its token.
            async with self._attempted:
                self._attempted.notify_all()
            await self.unsent_gate.wait()
        if awaiting is not None:
            awaiting(True)  # out, as the real client's call: answered below, unless the gate is never opened
        async with self._attempted:
            self._attempted.notify_all()
        if self.finish_gate is not None:
            await self.finish_gate.wait()
        if awaiting is not None:
            awaiting(False)
        scripted = self.finish_script.popleft() if self.finish_script else None
        if scripted is not None:
            raise scripted
        self.finishes.append(
            Finish(
                task_id,
                error is None,
                error.code if error is not None else 0,
                error.message if error is not None else "",
                non_retryable,
                len(annotations),
                response,
                tuple(annotation.type_url for annotation in annotations),
            )
        )
        return baton_pb2.BatonServiceFinishTaskResponse()

    async def get_task(
        self, *, on_answer: Callable[[int], None] | None = None
    ) -> baton_pb2.BatonServiceGetTaskResponse:
        self.polls += 1
        self.polled.set()
        await asyncio.sleep(0)
        scripted = self.poll_script.popleft() if self.poll_script else baton_pb2.BatonServiceGetTaskResponse()
        if isinstance(scripted, BaseException):
            raise scripted
        if on_answer is not None:
            on_answer(scripted.ByteSize())
        return scripted

    async def heartbeat(self, task_id: str) -> baton_pb2.BatonServiceHeartbeatResponse:
        self.heartbeats += 1
        await asyncio.sleep(0)
        scripted = (
            self.heartbeat_script.popleft() if self.heartbeat_script else baton_pb2.BatonServiceHeartbeatResponse()
        )
        if isinstance(scripted, BaseException):
            raise scripted
        return scripted


class StubProvisioner:
    """Grants and revokes succeed, unless `error` is set; `gate` (when set) holds every call until it opens."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.error: BaseException | None = None
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def _enter(self, what: str) -> None:
        self.calls.append(what)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error

    async def grant(self, principal: resource_pb2.Resource, entitlement: entitlement_pb2.Entitlement) -> GrantResult:
        await self._enter("grant")
        return GrantResult(grants=[grant_pb2.Grant(id=f"{entitlement.id}:{principal.id.resource}")])

    async def revoke(self, grant: grant_pb2.Grant) -> list[any_pb2.Any]:
        await self._enter("revoke")
        return []


class StubAccounts:
    """Creates every account asked for, recording what it was given."""

    def __init__(self) -> None:
        self.created: list[AccountInfo] = []

    async def create_account(self, info: AccountInfo) -> CreateAccountResult:
        self.created.append(info)
        return CreateAccountResult(resource=resource_pb2.Resource(id=resource_pb2.ResourceId(resource_type="user")))


class StubConnector:
    """A connector whose every resource type is provisioned by one `StubProvisioner`, and accounts created by
    `StubAccounts`; nothing else exists."""

    def __init__(self) -> None:
        self.provisioning = StubProvisioner()
        self.accounts = StubAccounts()

    def provisioner(self, resource_type_id: str) -> StubProvisioner:
        return self.provisioning

    def account_manager(self) -> StubAccounts:
        return self.accounts

    def resource_deleter(self, resource_type_id: str) -> None:
        return None

    def action_manager(self) -> None:
        return None


class StubFullSync:
    def __init__(self) -> None:
        self.runs: list[str] = []

    async def run(self, task_id: str, task: Any) -> Outcome:
        self.runs.append(task_id)
        return Outcome()


class CountingObserver:
    def __init__(self) -> None:
        self.in_flight = 0
        self.finished: list[tuple[str, str]] = []

    def task_received(self, task_type: str) -> None:
        self.in_flight += 1

    def task_finished(self, task_type: str, outcome: str, seconds: float) -> None:
        self.in_flight -= 1
        self.finished.append((task_type, outcome))

    def task_refused(self, task_type: str) -> None:
        self.finished.append((task_type, "not_run"))


@dataclass
class Rig:
    client: StubClient
    connector: StubConnector
    full_sync: StubFullSync
    observer: CountingObserver
    processor: TaskProcessor
    hellos: list[str]


def make_rig(
    *,
    finish_retry: RetryPolicy = INSTANT,
    client: StubClient | None = None,
    hello: HelloCall | None = None,
) -> Rig:
    stub = client or StubClient()
    connector = StubConnector()
    full_sync = StubFullSync()
    observer = CountingObserver()
    hellos: list[str] = []

    async def answered(task_id: str, awaiting: object) -> None:
        hellos.append(task_id)

    processor = TaskProcessor(
        stub.as_client(),
        Handlers(cast(Connector, connector), provisioning=True),
        cast(FullSyncHandler, full_sync),
        hello or answered,
        observer=observer,
        finish_retry=finish_retry,
    )
    return Rig(stub, connector, full_sync, observer, processor, hellos)


def processor_over(client: BatonServiceClient, policy: RetryPolicy = INSTANT) -> TaskProcessor:
    """A task processor over a real ConductorOne client: a stub connector with provisioning on, no full-sync handler,
    and a hello task answered by the client's own Hello; its reports retried under `policy`."""

    async def hello(task_id: str, awaiting: Callable[[bool], None]) -> None:
        metadata = connector_pb2.ConnectorMetadata(display_name="stub")
        await client.hello(metadata, task_id=task_id, awaiting=awaiting)

    handlers = Handlers(cast(Connector, StubConnector()), provisioning=True)
    return TaskProcessor(client, handlers, cast(Any, None), hello, finish_retry=policy)
