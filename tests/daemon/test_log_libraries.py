"""A library's own log lines below WARNING are never written, at any level: they quote a peer's bytes.

httpcore's debug trace quotes every response header and the reason phrase. At `--log-level debug` a Datadog or a
proxy that echoed an issued credential in a header put it in the log: the redactor knows the secrets the process
keeps (the Datadog keys, the client secret, recent access tokens), never a credential it issued. Both commands that
log (one-shot and service mode) configure logging through `connector.daemon.logging.configure`, tested here in both
formats.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import structlog

from connector.daemon import logging as logs
from connector.datadog.client import DatadogClient
from connector.datadog.errors import DatadogError
from tests.datadog.helpers import CANARY_API_KEY, CANARY_APP_KEY

ISSUED = "canary-issued-credential-0a1b2c3d4e5f"
CLIENT_SECRET = "canary-client-secret-77e1d0c9"
BEARER = "canary-bearer-token-9f8e7d6c"
CANARIES = (ISSUED, CLIENT_SECRET, BEARER, CANARY_API_KEY, CANARY_APP_KEY)
LIBRARIES = ("httpcore", "httpcore.http11", "httpx", "h11", "h2", "hpack", "grpc", "grpc._cython", "asyncio", "urllib3")


@pytest.fixture(autouse=True)
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(logs, "_secrets", set())
    monkeypatch.setattr(logs, "_rotating", {})
    monkeypatch.setattr(logs, "_known", ())
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in LIBRARIES}
    try:
        yield
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        logs.configure("info", "json", io.StringIO())


async def _echoing_peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A Datadog (or a proxy) that puts every canary in its reason phrase and in headers of its answer."""
    await reader.readuntil(b"\r\n\r\n")
    body = b'{"errors": ["no"]}'
    headers = b"".join(b"X-Echo-%d: %s\r\n" % (n, canary.encode()) for n, canary in enumerate(CANARIES))
    writer.write(
        b"HTTP/1.1 400 Bad "
        + ISSUED.encode()
        + b"\r\nContent-Type: application/json\r\n"
        + headers
        + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        + body
    )
    await writer.drain()
    writer.close()


async def _one_request_to_an_echoing_peer() -> None:
    server = await asyncio.start_server(_echoing_peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = DatadogClient(
        api_key=CANARY_API_KEY, app_key=CANARY_APP_KEY, base_url=f"http://127.0.0.1:{port}", allow_insecure_http=True
    )
    try:
        with pytest.raises(DatadogError):
            await client.get_application_key("k1")
    finally:
        await client.aclose()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("fmt", ["json", "console"])
async def test_no_header_a_peer_echoes_reaches_the_log_at_debug(fmt: str) -> None:
    out = io.StringIO()
    logs.configure("debug", fmt, out)
    logs.register_secret(CANARY_API_KEY)
    logs.register_secret(CANARY_APP_KEY)
    logs.register_secret(CLIENT_SECRET)
    logs.register_rotating_secret("c1_access_token", BEARER)
    await _one_request_to_an_echoing_peer()
    structlog.get_logger("t").debug("our own debug line")
    text = out.getvalue()
    assert "our own debug line" in text, "debug logging was on"
    for canary in CANARIES:
        assert canary not in text
    assert "httpcore" not in text


@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.parametrize("level", ["debug", "info"])
def test_a_librarys_lines_below_warning_are_never_written_even_at_its_own_debug_level(fmt: str, level: str) -> None:
    out = io.StringIO()
    logs.configure(level, fmt, out)
    for name in LIBRARIES:
        library = logging.getLogger(name)
        library.setLevel(logging.DEBUG)  # a library (or a plugin) lowering its own logger's level
        library.debug("receive_response_headers.complete return_value=%r", [(b"X-Echo", ISSUED.encode())])
        library.info("HTTP Request: GET /api/v2/users %s", ISSUED)
    assert out.getvalue() == ""


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_librarys_warnings_are_still_written(fmt: str) -> None:
    out = io.StringIO()
    logs.configure("debug", fmt, out)
    logging.getLogger("asyncio").warning("Executing %s took 1.2 seconds", "<Task>")
    assert "Executing <Task> took 1.2 seconds" in out.getvalue()


@pytest.mark.parametrize("level", ["debug", "DEBUG", "Info"])
def test_a_grpc_verbosity_that_lets_its_core_trace_through_is_warned_about_at_start(
    level: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """grpc's C core writes its trace to stderr past the redactor; with GRPC_TRACE=http it quotes ConductorOne's
    access token. The operator's own GRPC_VERBOSITY is kept (debugging a TLS problem needs it), never silently."""
    from connector.daemon.main import run_connector

    monkeypatch.setenv("GRPC_VERBOSITY", level)
    # The run stops at the environment check, after the warnings.
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/ca.pem")
    assert run_connector(["--api-key", CANARY_API_KEY, "--app-key", CANARY_APP_KEY, "--log-format", "json"]) == 2
    warned = [line for line in capsys.readouterr().err.splitlines() if "GRPC_VERBOSITY" in line]
    assert len(warned) == 1
    assert f"GRPC_VERBOSITY is {level.upper()}" in warned[0]
    assert "access token" in warned[0]


@pytest.mark.parametrize("level", [None, "NONE", "error", "", "Error", "nOnE"])
def test_a_grpc_verbosity_that_keeps_the_core_quiet_is_not_warned_about(level: str | None) -> None:
    environ = {} if level is None else {"GRPC_VERBOSITY": level}
    assert logs.native_log_warning(environ) is None


@pytest.mark.parametrize("level", ["debugging", "WARNING", "warn", "NONE ", " error", " Info ", "0", "canary-7f3e9a"])
def test_a_grpc_verbosity_grpc_does_not_read_as_a_quiet_level_is_warned_about(level: str) -> None:
    """grpc takes only DEBUG, INFO, ERROR and NONE (any case, no whitespace stripped); any other value is no level, and
    it writes at its default, which lets GRPC_TRACE through with the access token: `NONE ` with a trailing space (a
    chart's quoting) or a `WARNING` the operator took for quiet leaked it with no word at start. The warning says so
    without quoting the variable's own text."""
    warning = logs.native_log_warning({"GRPC_VERBOSITY": level})
    assert warning is not None
    assert "does not read as ERROR or NONE" in warning
    assert "access token" in warning
    assert "canary-7f3e9a" not in warning


_GRPC_CALL_WITH_A_TOKEN = f"""
import asyncio
from connector.daemon import logging as logs

logs.silence_native_logs()
import grpc


async def call() -> None:
    channel = grpc.aio.insecure_channel("127.0.0.1:1")
    try:
        await channel.unary_unary("/c1.Baton/GetTask")(
            b"", metadata=(("authorization", "Bearer {BEARER}"),), timeout=2
        )
    except grpc.aio.AioRpcError:
        pass
    await channel.close()

asyncio.run(call())
"""


@pytest.mark.parametrize("level", [None, ""])
def test_grpc_core_trace_stays_off_stderr_when_the_operator_set_no_verbosity(level: str | None) -> None:
    """With GRPC_TRACE=http grpc's core writes every header of a call to stderr, the bearer token included, unless its
    verbosity is ERROR or NONE. An empty GRPC_VERBOSITY (a chart's `value: ""`) is no setting to grpc, and it was kept
    as the operator's own, so the real library wrote the token out; it is NONE like an unset one."""
    env = {key: value for key, value in os.environ.items() if key != "GRPC_VERBOSITY"}
    env["GRPC_TRACE"] = "http,api"
    if level is not None:
        env["GRPC_VERBOSITY"] = level
    done = subprocess.run(
        [sys.executable, "-c", _GRPC_CALL_WITH_A_TOKEN], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert BEARER not in done.stderr
    assert done.stderr == ""
