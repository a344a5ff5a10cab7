"""What the fake ConductorOne knows and remembers, shared by its token endpoint, its BatonService and the test
thread that scripts it. Every access goes through one lock: the servers run on the fake's own event loop
thread, the test reads and scripts from another.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import grpc

from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.c1.creds import ClientCredentials

OutageMode = Literal["refuse", "unavailable"]
# A scripted failure of an RPC: its code, whether its details quote tokens, its status-details trailer, its words.
ScriptedFailure = tuple[grpc.StatusCode, bool | Literal["own"], bytes | None, str | None]


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    """A scripted answer of the token endpoint, given instead of checking the request (not recorded)."""

    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()
    """More headers (a `Retry-After`), each line as given."""


@dataclass(slots=True)
class TokenRequestRecord:
    ok: bool
    reason: str
    """Empty when a token was issued; otherwise the check that failed."""
    user_agent: str
    form_keys: tuple[str, ...]
    header: dict[str, object] | None
    """The decoded JOSE header of the assertion, when it decoded."""
    claims: dict[str, object] | None


@dataclass(slots=True)
class CallRecord:
    method: str
    user_agent: str
    authorization: bool
    """Whether an `authorization: Bearer` header with a live token came with the call."""
    code: str = "OK"


@dataclass(slots=True)
class UploadRecord:
    host_id: str = ""
    task_id: str = ""
    size: int = 0
    chunk_sizes: list[int] = field(default_factory=list)
    received_sha256: bytes = b""
    computed_sha256: bytes = b""
    ok: bool = False
    error: str = ""
    path: Path | None = None
    """The reassembled file."""


@dataclass(slots=True)
class Recorded:
    """A snapshot of everything the fake saw, safe to read while the fake keeps running."""

    token_requests: list[TokenRequestRecord]
    calls: list[CallRecord]
    hellos: list[baton_pb2.BatonServiceHelloRequest]
    get_task_count: int
    heartbeats: list[baton_pb2.BatonServiceHeartbeatRequest]
    finish_tasks: dict[str, list[baton_pb2.BatonServiceFinishTaskRequest]]
    uploads: list[UploadRecord]
    issued_tokens: list[str]
    finish_attempts: list[baton_pb2.BatonServiceFinishTaskRequest] = field(default_factory=list)
    """Every FinishTask request that reached the service, refused or not, in order (what each attempt carried)."""
    handed_out_at: dict[str, float] = field(default_factory=dict)
    """Monotonic time at which GetTask gave each task to the daemon (for latency benchmarks)."""
    first_finished_at: dict[str, float] = field(default_factory=dict)
    """Monotonic time of each task's first FinishTask."""

    @property
    def tokens_issued(self) -> int:
        return len(self.issued_tokens)

    def calls_to(self, method: str) -> list[CallRecord]:
        return [call for call in self.calls if call.method == method]


class FakeState:
    def __init__(self, *, expires_in: int, token_lifetime: float | None, upload_dir: Path) -> None:
        self.lock = threading.Lock()
        self.credentials: ClientCredentials | None = None
        self.audience = ""
        self.expires_in = expires_in
        self.token_lifetime = token_lifetime
        self.upload_dir = upload_dir
        self.next_poll_seconds = 0.0
        self.next_heartbeat_seconds = 0.0
        # Raw (seconds, nanos) answered instead of the two above, valid or not: hostile-peer tests.
        self.raw_next_poll: tuple[int, int] | None = None
        self.raw_next_heartbeat: tuple[int, int] | None = None
        self.idle_task: Literal["unset", "none"] = "unset"
        self._tokens: dict[str, float] = {}
        self._nonces: set[str] = set()
        self._tasks: deque[baton_pb2.Task] = deque()
        self._cancelled: set[str] = set()
        self._outage: OutageMode | None = None
        self._outage_until: float | None = None
        self._rpc_failures: dict[str, deque[ScriptedFailure]] = {}
        self._rpc_delays: dict[str, deque[float]] = {}
        self._rpc_holds: dict[str, deque[threading.Event]] = {}
        self._early_upload_oks = 0
        self._stalled_uploads = 0
        self._held_upload_answers = 0
        self._raw_answers: dict[str, deque[bytes]] = {}
        self._taken_then_raw: dict[str, deque[bytes]] = {}
        self._taken_then_cut: dict[str, int] = {}
        self.cut_connections: Callable[[], None] | None = None
        """Cuts every open connection (the fake's TLS front: `FakeC1` sets it once started)."""
        self._metadata_floods: dict[str, deque[tuple[int, int]]] = {}
        self.refuse_repeated_reports = False
        """A FinishTask for a task already reported is refused FAILED_PRECONDITION, as a server that closed the task
        (which the fake otherwise records again, so a test can count)."""
        self._token_answers: deque[TokenAnswer] = deque()
        self._token_requests: list[TokenRequestRecord] = []
        self._calls: list[CallRecord] = []
        self._hellos: list[baton_pb2.BatonServiceHelloRequest] = []
        self._get_task_count = 0
        self._heartbeats: list[baton_pb2.BatonServiceHeartbeatRequest] = []
        self._finish_tasks: dict[str, list[baton_pb2.BatonServiceFinishTaskRequest]] = {}
        self._finish_attempts: list[baton_pb2.BatonServiceFinishTaskRequest] = []
        self._uploads: list[UploadRecord] = []
        self._issued: list[str] = []
        self._handed_out_at: dict[str, float] = {}
        self._first_finished_at: dict[str, float] = {}

    # ---- tokens --------------------------------------------------------------------------------------

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(32)
        lifetime = self.token_lifetime if self.token_lifetime is not None else float(self.expires_in)
        with self.lock:
            self._tokens[token] = time.monotonic() + lifetime
            self._issued.append(token)
        return token

    def token_valid(self, token: str) -> bool:
        with self.lock:
            expiry = self._tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    def revoke_tokens(self) -> None:
        with self.lock:
            self._tokens.clear()

    def nonce_is_new(self, nonce: str) -> bool:
        with self.lock:
            if nonce in self._nonces:
                return False
            self._nonces.add(nonce)
            return True

    def script_token_answers(self, answer: TokenAnswer, times: int) -> None:
        with self.lock:
            self._token_answers.extend([answer] * times)

    def pop_token_answer(self) -> TokenAnswer | None:
        with self.lock:
            return self._token_answers.popleft() if self._token_answers else None

    # ---- outage and injected failures ---------------------------------------------------------------

    def start_outage(self, mode: OutageMode, seconds: float | None) -> None:
        with self.lock:
            self._outage = mode
            self._outage_until = None if seconds is None else time.monotonic() + seconds

    def end_outage(self) -> None:
        with self.lock:
            self._outage = None
            self._outage_until = None

    def outage(self) -> OutageMode | None:
        with self.lock:
            if self._outage_until is not None and time.monotonic() >= self._outage_until:
                self._outage, self._outage_until = None, None
            return self._outage

    def fail_next(
        self,
        method: str,
        code: grpc.StatusCode,
        times: int,
        *,
        echo_tokens: bool | Literal["own"] = False,
        status_details: bytes | None = None,
        message: str | None = None,
    ) -> None:
        with self.lock:
            failure = (code, echo_tokens, status_details, message)
            self._rpc_failures.setdefault(method, deque()).extend([failure] * times)

    def slow_down(self, method: str, seconds: float, times: int) -> None:
        with self.lock:
            self._rpc_delays.setdefault(method, deque()).extend([seconds] * times)

    def hold_next(self, method: str) -> threading.Event:
        release = threading.Event()
        with self.lock:
            self._rpc_holds.setdefault(method, deque()).append(release)
        return release

    def holds_pending(self, method: str) -> int:
        """How many holds of `method` no call has taken yet (0: the held call has arrived)."""
        with self.lock:
            return len(self._rpc_holds.get(method, ()))

    def pop_rpc_hold(self, method: str) -> threading.Event | None:
        with self.lock:
            queue = self._rpc_holds.get(method)
            return queue.popleft() if queue else None

    def pop_rpc_delay(self, method: str) -> float:
        with self.lock:
            queue = self._rpc_delays.get(method)
            return queue.popleft() if queue else 0.0

    def answer_raw(self, method: str, body: bytes, times: int) -> None:
        with self.lock:
            self._raw_answers.setdefault(method, deque()).extend([body] * times)

    def take_then_answer_raw(self, method: str, body: bytes, times: int) -> None:
        with self.lock:
            self._taken_then_raw.setdefault(method, deque()).extend([body] * times)

    def flood_metadata(self, method: str, entries: int, trailer_bytes: int, times: int) -> None:
        with self.lock:
            self._metadata_floods.setdefault(method, deque()).extend([(entries, trailer_bytes)] * times)

    def pop_metadata_flood(self, method: str) -> tuple[int, int] | None:
        with self.lock:
            queue = self._metadata_floods.get(method)
            return queue.popleft() if queue else None

    def take_then_cut(self, method: str, times: int) -> None:
        with self.lock:
            self._taken_then_cut[method] = self._taken_then_cut.get(method, 0) + times

    def pop_taken_then_cut(self, method: str) -> bool:
        with self.lock:
            left = self._taken_then_cut.get(method, 0)
            if left:
                self._taken_then_cut[method] = left - 1
            return bool(left)

    def pop_taken_then_raw(self, method: str) -> bytes | None:
        with self.lock:
            queue = self._taken_then_raw.get(method)
            return queue.popleft() if queue else None

    def is_reported(self, task_id: str) -> bool:
        with self.lock:
            return task_id in self._finish_tasks

    def pop_raw_answer(self, method: str) -> bytes | None:
        with self.lock:
            queue = self._raw_answers.get(method)
            return queue.popleft() if queue else None

    def stall_uploads(self, times: int) -> None:
        with self.lock:
            self._stalled_uploads += times

    def pop_stalled_upload(self) -> bool:
        with self.lock:
            if self._stalled_uploads:
                self._stalled_uploads -= 1
                return True
            return False

    def hold_upload_answers(self, times: int) -> None:
        with self.lock:
            self._held_upload_answers += times

    def pop_held_upload_answer(self) -> bool:
        with self.lock:
            if self._held_upload_answers:
                self._held_upload_answers -= 1
                return True
            return False

    def accept_uploads_early(self, times: int) -> None:
        with self.lock:
            self._early_upload_oks += times

    def pop_early_upload_ok(self) -> bool:
        with self.lock:
            if self._early_upload_oks:
                self._early_upload_oks -= 1
                return True
            return False

    def pop_rpc_failure(self, method: str) -> ScriptedFailure | None:
        """The next scripted failure of `method`: its code, whether its details quote every token issued, the
        `grpc-status-details-bin` trailer it carries (a serialized google.rpc.Status, or any bytes), if any, and the
        words of its details, if given."""
        with self.lock:
            queue = self._rpc_failures.get(method)
            return queue.popleft() if queue else None

    def issued_tokens(self) -> list[str]:
        with self.lock:
            return list(self._issued)

    # ---- tasks ----------------------------------------------------------------------------------------

    def enqueue(self, task: baton_pb2.Task) -> None:
        with self.lock:
            self._tasks.append(copy.deepcopy(task))

    def pop_task(self) -> baton_pb2.Task | None:
        with self.lock:
            self._get_task_count += 1
            if not self._tasks:
                return None
            task = self._tasks.popleft()
            self._handed_out_at.setdefault(task.id, time.monotonic())
            return task

    def cancel_task(self, task_id: str) -> None:
        with self.lock:
            self._cancelled.add(task_id)

    def is_cancelled(self, task_id: str) -> bool:
        with self.lock:
            return task_id in self._cancelled

    # ---- recording -------------------------------------------------------------------------------------

    def record_token_request(self, record: TokenRequestRecord) -> None:
        with self.lock:
            self._token_requests.append(record)

    def record_call(self, record: CallRecord) -> None:
        with self.lock:
            self._calls.append(record)

    def record_hello(self, request: baton_pb2.BatonServiceHelloRequest) -> None:
        with self.lock:
            self._hellos.append(copy.deepcopy(request))

    def record_heartbeat(self, request: baton_pb2.BatonServiceHeartbeatRequest) -> None:
        with self.lock:
            self._heartbeats.append(copy.deepcopy(request))

    def record_finish(self, request: baton_pb2.BatonServiceFinishTaskRequest) -> None:
        with self.lock:
            self._finish_tasks.setdefault(request.task_id, []).append(copy.deepcopy(request))
            self._first_finished_at.setdefault(request.task_id, time.monotonic())

    def record_finish_attempt(self, request: baton_pb2.BatonServiceFinishTaskRequest) -> None:
        with self.lock:
            self._finish_attempts.append(copy.deepcopy(request))

    def record_upload(self, record: UploadRecord) -> None:
        with self.lock:
            self._uploads.append(record)

    def task_times(self, task_id: str) -> tuple[float, float] | None:
        """(handed out, first finished) for a finished task, else None: cheap enough to poll, unlike a snapshot."""
        with self.lock:
            finished = self._first_finished_at.get(task_id)
            return None if finished is None else (self._handed_out_at.get(task_id, finished), finished)

    def snapshot(self) -> Recorded:
        with self.lock:
            return Recorded(
                token_requests=copy.deepcopy(self._token_requests),
                calls=copy.deepcopy(self._calls),
                hellos=copy.deepcopy(self._hellos),
                get_task_count=self._get_task_count,
                heartbeats=copy.deepcopy(self._heartbeats),
                finish_tasks=copy.deepcopy(self._finish_tasks),
                uploads=copy.deepcopy(self._uploads),
                issued_tokens=list(self._issued),
                finish_attempts=copy.deepcopy(self._finish_attempts),
                handed_out_at=dict(self._handed_out_at),
                first_finished_at=dict(self._first_finished_at),
            )
