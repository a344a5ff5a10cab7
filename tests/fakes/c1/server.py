"""`FakeC1`: a fake ConductorOne tenant, real servers on 127.0.0.1 running on their own event loop thread.

    with FakeC1(expires_in=3) as fake:
        fake.enqueue(task)
        ... point a client at fake.address with trust in fake.ca_cert_path ...
        assert fake.recorded().finish_tasks[task.id]

Tests in any thread or event loop can use it; scripting methods are thread-safe.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Literal

import grpc
import grpc.aio
from aiohttp import web

from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2, baton_pb2_grpc
from tests.fakes.c1.certs import TlsFiles, generate_tls_files
from tests.fakes.c1.control import add_control_routes
from tests.fakes.c1.creds import ClientCredentials, generate_client_credentials
from tests.fakes.c1.front import TlsFront
from tests.fakes.c1.service import GARBAGE, FakeBatonService, RawAnswers
from tests.fakes.c1.state import FakeState, OutageMode, Recorded, TokenAnswer
from tests.fakes.c1.token_endpoint import TOKEN_HOLD, TOKEN_PATH, add_token_routes


class FakeC1:
    """A fake ConductorOne: token endpoint and BatonService behind one TLS port.

    `tenant_host`: the host in the generated client id. None uses `127.0.0.1:<port>`, so the id alone points
    at the fake; a name like `acme.conductor.one` instead needs `api_host` (BATON_C1_API_HOST) to reach it,
    as a daemon behind a proxy would, and shows that `aud` still comes from the id.
    `expires_in`: what the token endpoint advertises. `token_lifetime`: how long the fake really honours a
    token (default: `expires_in`), to simulate revocation or clock skew.
    """

    def __init__(
        self,
        *,
        expires_in: int = 3600,
        token_lifetime: float | None = None,
        tenant_host: str | None = None,
        client_name: str | None = None,
        kid: str | None = None,
        port: int = 0,
        next_poll: float = 0.0,
        next_heartbeat: float = 0.0,
        idle_task: Literal["unset", "none"] = "unset",
        state_dir: Path | None = None,
        grpc_options: Sequence[tuple[str, int]] = (),
    ) -> None:
        self._grpc_options = list(grpc_options)
        self._owns_dir = state_dir is None
        self.state_dir = Path(tempfile.mkdtemp(prefix="fake-c1-")) if state_dir is None else state_dir
        self._tenant_host = tenant_host
        self._client_name = client_name
        self._kid = kid
        self._requested_port = port
        upload_dir = self.state_dir / "uploads"
        upload_dir.mkdir(parents=True, exist_ok=True)
        self.state = FakeState(expires_in=expires_in, token_lifetime=token_lifetime, upload_dir=upload_dir)
        self.state.next_poll_seconds = next_poll
        self.state.next_heartbeat_seconds = next_heartbeat
        self.state.idle_task = idle_task
        self.tls: TlsFiles | None = None
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._grpc_server: grpc.aio.Server | None = None
        self._http_runner: web.AppRunner | None = None
        self._front: TlsFront | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> FakeC1:
        self.tls = generate_tls_files(self.state_dir / "tls")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fake-c1", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start_servers(), loop).result(timeout=30)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            if loop.is_running():
                asyncio.run_coroutine_threadsafe(self._stop_servers(), loop).result(timeout=30)
                loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
            loop.close()
        self._loop = self._thread = None
        if self._owns_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> FakeC1:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    async def _start_servers(self) -> None:
        assert self.tls is not None
        grpc_server = grpc.aio.server(interceptors=[RawAnswers(self.state)], options=self._grpc_options)
        baton_pb2_grpc.add_BatonServiceServicer_to_server(FakeBatonService(self.state), grpc_server)
        grpc_port: int = grpc_server.add_insecure_port("127.0.0.1:0")
        await grpc_server.start()
        self._grpc_server = grpc_server

        app = web.Application()
        add_token_routes(app, self.state)
        add_control_routes(app, self.state)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        http_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        http_socket.bind(("127.0.0.1", 0))
        http_port: int = http_socket.getsockname()[1]
        await web.SockSite(runner, http_socket).start()
        self._http_runner = runner

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.tls.server_cert, self.tls.server_key)
        # Preferring http/1.1 sends clients that offer both (curl) to the HTTP side; grpc offers only h2.
        context.set_alpn_protocols(["http/1.1", "h2"])
        self._front = TlsFront(self.state, context, grpc_port=grpc_port, http_port=http_port)
        self.port = await self._front.start(self._requested_port)
        self.state.cut_connections = self._front.drop_all

        credentials = generate_client_credentials(
            self._tenant_host or self.address, client_name=self._client_name, kid=self._kid
        )
        with self.state.lock:
            self.state.credentials = credentials
            token_host = credentials.client_id.split("@", 1)[1].split("/", 1)[0]
            self.state.audience = token_host.rsplit(":", 1)[0] if ":" in token_host else token_host

    async def _stop_servers(self) -> None:
        if self._front is not None:
            await self._front.stop()
        if self._grpc_server is not None:
            await self._grpc_server.stop(grace=None)
        if self._http_runner is not None:
            await self._http_runner.cleanup()
        # Connection handlers still winding down would otherwise be destroyed pending when the loop closes.
        leftovers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    # ---- where it is and who may talk to it -------------------------------------------------------------

    @property
    def address(self) -> str:
        """`127.0.0.1:<port>`: the token endpoint and BatonService both. Use it as BATON_C1_API_HOST."""
        return f"127.0.0.1:{self.port}"

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted on the TLS port so far (token endpoint and BatonService together)."""
        return self._front.connections_accepted if self._front is not None else 0

    @property
    def token_url(self) -> str:
        return f"https://{self.address}{TOKEN_PATH}"

    @property
    def ca_cert_path(self) -> Path:
        assert self.tls is not None, "start the fake first"
        return self.tls.ca_cert

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert_path.read_bytes()

    @property
    def credentials(self) -> ClientCredentials:
        assert self.state.credentials is not None, "start the fake first"
        return self.state.credentials

    @property
    def client_id(self) -> str:
        return self.credentials.client_id

    @property
    def client_secret(self) -> str:
        return self.credentials.client_secret

    @property
    def api_host(self) -> str | None:
        """What BATON_C1_API_HOST must be for a daemon to reach the fake (None when the client id suffices)."""
        return None if self._tenant_host is None else self.address

    def env(self) -> dict[str, str]:
        """Environment for a daemon process pointed at this fake."""
        values = {
            "BATON_CLIENT_ID": self.client_id,
            "BATON_CLIENT_SECRET": self.client_secret,
            "SSL_CERT_FILE": str(self.ca_cert_path),
            "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH": str(self.ca_cert_path),
        }
        if self.api_host is not None:
            values["BATON_C1_API_HOST"] = self.api_host
        return values

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only the fake's CA (for httpx's `verify=`)."""
        return ssl.create_default_context(cafile=str(self.ca_cert_path))

    # ---- scripting ---------------------------------------------------------------------------------------

    def enqueue(self, task: baton_pb2.Task) -> str:
        """Queue a task for GetTask; returns its id."""
        self.state.enqueue(task)
        return task.id

    def cancel_task(self, task_id: str) -> None:
        """Heartbeats for this task answer `cancelled=true` from now on."""
        self.state.cancel_task(task_id)

    def set_polling(self, *, next_poll: float | None = None, next_heartbeat: float | None = None) -> None:
        with self.state.lock:
            if next_poll is not None:
                self.state.next_poll_seconds = next_poll
            if next_heartbeat is not None:
                self.state.next_heartbeat_seconds = next_heartbeat

    def answer_garbage(self, method: str, times: int = 1) -> None:
        """The next `times` calls to `method` get bytes that do not decode as its response."""
        self.answer_raw(method, GARBAGE, times)

    def answer_raw(self, method: str, body: bytes, times: int = 1) -> None:
        """The next `times` calls to `method` are answered OK with `body` as the response's bytes, whatever they are
        (an upload after reading its whole stream)."""
        self.state.answer_raw(method, body, times)

    def take_then_answer_raw(self, method: str, body: bytes, times: int = 1) -> None:
        """The next `times` calls to `method` (`FinishTask` or `Hello`) are taken (recorded as accepted) and answered
        OK with `body` as the response's bytes: an answer that does not decode, or one over the client's receive
        limit. The call landed; only its answer is unreadable."""
        self.state.take_then_answer_raw(method, body, times)

    def take_then_cut(self, method: str, times: int = 1) -> None:
        """The next `times` calls to `method` (`FinishTask` or `Hello`) are taken (recorded as accepted), then every open
        connection is cut before their answer goes out: the call landed, and the client hears only that its connection
        was lost (UNAVAILABLE, "Stream removed (Socket closed)")."""
        self.state.take_then_cut(method, times)

    def flood_metadata(self, method: str, *, entries: int = 0, trailer_bytes: int = 0, times: int = 1) -> None:
        """The next `times` calls to `method` (a unary one) are handled as usual (a FinishTask is taken), and answered
        with `entries` initial metadata entries and one trailer of `trailer_bytes` bytes besides."""
        self.state.flood_metadata(method, entries, trailer_bytes, times)

    def refuse_repeated_reports(self) -> None:
        """From now on a FinishTask for a task already reported is refused FAILED_PRECONDITION, as a ConductorOne
        whose task is closed would."""
        with self.state.lock:
            self.state.refuse_repeated_reports = True

    def set_raw_durations(
        self, *, next_poll: tuple[int, int] | None = None, next_heartbeat: tuple[int, int] | None = None
    ) -> None:
        """Answer these (seconds, nanos) Durations as they are, out of range or with mixed signs included."""
        with self.state.lock:
            self.state.raw_next_poll = next_poll
            self.state.raw_next_heartbeat = next_heartbeat

    def set_token_expiry(self, expires_in: int, token_lifetime: float | None = None) -> None:
        with self.state.lock:
            self.state.expires_in = expires_in
            self.state.token_lifetime = token_lifetime

    def revoke_tokens(self) -> None:
        """Every token issued so far stops working (the next call with one gets UNAUTHENTICATED)."""
        self.state.revoke_tokens()

    def fail_next(
        self,
        method: str,
        code: grpc.StatusCode,
        times: int = 1,
        *,
        echo_tokens: bool | Literal["own"] = False,
        status_details: bytes | None = None,
        message: str | None = None,
    ) -> None:
        """The next `times` authenticated calls to `method` end with `code`; with `echo_tokens`, details quoting every
        token the fake issued (`"own"`: only the call's own `authorization` header, as a proxy echoing it would); with
        `status_details`, those bytes as the `grpc-status-details-bin` trailer (a serialized google.rpc.Status
        carrying, say, a RetryInfo); with `message`, those words as the status's details instead of the fake's own."""
        self.state.fail_next(
            method, code, times, echo_tokens=echo_tokens, status_details=status_details, message=message
        )

    def slow_down(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` authenticated calls to `method` wait `seconds` before being handled."""
        self.state.slow_down(method, seconds, times)

    def hold_next(self, method: str) -> threading.Event:
        """The next authenticated call to `method` is held, after its scripted delay and before its scripted failure,
        until the returned event is set (a ConductorOne slow to answer, for exactly as long as the test needs)."""
        return self.state.hold_next(method)

    def hold_next_token_request(self) -> threading.Event:
        """The next token request is held, unanswered, until the returned event is set (a token endpoint that
        accepts and never answers)."""
        return self.state.hold_next(TOKEN_HOLD)

    def stall_uploads(self, times: int = 1) -> None:
        """The next `times` uploads are never read (a peer alive but stuck): the stream waits on flow control."""
        self.state.stall_uploads(times)

    def hold_upload_answers(self, times: int = 1) -> None:
        """The next `times` uploads are read to their end, recorded, and never answered (a peer stuck after taking the
        whole asset): the client waits for the answer until it gives up."""
        self.state.hold_upload_answers(times)

    def accept_uploads_early(self, times: int = 1) -> None:
        """The next `times` uploads are answered OK right after their metadata, as a broken server might."""
        self.state.accept_uploads_early(times)

    def fail_token_requests(self, status: int, times: int = 1, *, retry_after: Sequence[str] = ()) -> None:
        """The next `times` token requests get HTTP `status` (an OAuth `server_error` body), with a `Retry-After`
        line for each value of `retry_after` (delta-seconds or an HTTP-date, sent as given)."""
        headers = tuple(("Retry-After", value) for value in retry_after)
        answer = TokenAnswer(status, b'{"error": "server_error"}', "application/json", headers)
        self.state.script_token_answers(answer, times)

    def answer_token_requests(
        self, body: bytes, *, content_type: str = "application/json", status: int = 200, times: int = 1
    ) -> None:
        """The next `times` token requests get this answer (a captive portal's page, JSON without a token...)."""
        self.state.script_token_answers(TokenAnswer(status, body, content_type), times)

    def start_outage(self, mode: OutageMode = "refuse", seconds: float | None = None) -> None:
        """`refuse`: cut open connections and drop new ones after the handshake (C1 down or unreachable).
        `unavailable`: answer every RPC UNAVAILABLE and token requests 503 (C1 up but failing).
        Ends by itself after `seconds`, or at `end_outage()`.
        """
        self.state.start_outage(mode, seconds)
        if mode == "refuse" and self._loop is not None and self._front is not None:
            self._loop.call_soon_threadsafe(self._front.drop_all)

    def end_outage(self) -> None:
        self.state.end_outage()

    @contextmanager
    def outage(self, mode: OutageMode = "refuse") -> Iterator[None]:
        self.start_outage(mode)
        try:
            yield
        finally:
            self.end_outage()

    def send_goaway(
        self, *, error_code: int = 2, debug: bytes = b"going away", last_stream_id: int = 2**31 - 1
    ) -> None:
        """Every open gRPC connection gets a GOAWAY with this HTTP/2 error code (2: INTERNAL_ERROR) and debug data, as
        a ConductorOne deploy or a load balancer going away sends (see `TlsFront.send_goaway`). Streams above
        `last_stream_id` (by default none) were not processed and end: 0 ends every call in flight."""
        assert self._loop is not None, "start the fake first"
        assert self._front is not None
        self._loop.call_soon_threadsafe(self._front.send_goaway, error_code, debug, last_stream_id)

    def recorded(self) -> Recorded:
        return self.state.snapshot()

    def task_times(self, task_id: str) -> tuple[float, float] | None:
        """When GetTask handed `task_id` out and when its first FinishTask came, once it has (a benchmark's poll:
        `recorded()` deep-copies everything under the lock the gRPC handlers need, which skews timings)."""
        return self.state.task_times(task_id)
