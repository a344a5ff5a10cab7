"""The end-to-end harness: the daemon as a real subprocess, pointed at the fake ConductorOne and fake Datadog.

`Stack.start()` runs `baton-datadog` with a clean environment (the fakes' settings, health port 0, JSON logs),
its stdout and stderr captured to files; the health port is the one the daemon logs once it has bound it. `wait_for` polls a condition with a deadline and fails with the
daemon's log tail, and fails early when the daemon died. The task builders make the Task messages ConductorOne
would send, from the project's own protos.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

from connector.baton.pb.c1.connectorapi.baton.v1 import baton_pb2
from tests.fakes.c1 import FakeC1, Recorded
from tests.fakes.datadog import FakeDatadog
from tests.fakes.env import connector_env
from tests.fakes.net import logged_health_port

T = TypeVar("T")
FinishRequest = baton_pb2.BatonServiceFinishTaskRequest

READY_TIMEOUT = 60.0
"""Start-up to a green /readyz: a Python start, one Datadog validation and one Hello. A bound on a hang, as
`ACT_TIMEOUT`: with 20 s, a start on one core shared with 8 CPU burners (taskset -c 0) was not ready in time."""
ACT_TIMEOUT = 60.0
"""The longest a test waits for the daemon or a fake to do what it is about to (fail a Hello, report a task, answer
/metrics): a bound on a hang, never a measure (a success returns at once). The daemon is another process: on a
loaded host it may not be scheduled for seconds, and the bounds of 2-15 s here were shorter than the 20 s that failed."""


def daemon_command() -> list[str]:
    """The installed console script when there is one (it is what the image runs), else `python -m connector`."""
    script = Path(sys.executable).with_name("baton-datadog")
    return [str(script)] if script.exists() else [sys.executable, "-m", "connector"]


def wait_for(
    condition: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.05,
    context: Callable[[], str] = lambda: "",
) -> T:
    """Poll `condition` until it returns something truthy (returned) or `timeout` seconds pass (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n{context()}")
        time.sleep(interval)


class DaemonExited(AssertionError):
    """The daemon ended while a test still expected it to run."""


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    env: Mapping[str, str]
    stdout_path: Path
    stderr_path: Path
    temp_dir: Path
    started_at: float = field(default_factory=time.monotonic)
    _health_port: int | None = None

    # -- the process ----------------------------------------------------------------------------------

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def send_signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the daemon did not exit within {timeout:g}s\n{self.tail()}") from None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s: what the kubelet does."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    # -- what it wrote --------------------------------------------------------------------------------

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def output(self) -> str:
        return self.stdout() + self.stderr()

    def log_lines(self) -> list[str]:
        return [line for line in self.output().splitlines() if line.strip()]

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        """The JSON log records (BATON_LOG_FORMAT=json), optionally only those with this `event`."""
        out: list[dict[str, Any]] = []
        for line in self.log_lines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and (event is None or record.get("event") == event):
                    out.append(record)
        return out

    def non_json_lines(self) -> list[str]:
        bad = []
        for line in self.log_lines():
            try:
                record = json.loads(line)
            except ValueError:
                bad.append(line)
                continue
            if not isinstance(record, dict):
                bad.append(line)
        return bad

    def tail(self, lines: int = 40) -> str:
        text = "\n".join(self.log_lines()[-lines:])
        state = "running" if self.alive() else f"exited with {self.process.returncode}"
        return f"--- daemon pid {self.pid} ({state}), last log lines ---\n{text}"

    # -- its HTTP side ----------------------------------------------------------------------------------

    @property
    def health_port(self) -> int | None:
        """The port the health server bound (it was given port 0), once the daemon logged it."""
        if self._health_port is None:
            self._health_port = logged_health_port(self.log_lines())
        return self._health_port

    def url(self, path: str) -> str:
        port = self.wait_for(lambda: self.health_port, timeout=READY_TIMEOUT, what="the health server's port")
        return f"http://127.0.0.1:{port}{path}"

    def get(self, path: str, timeout: float = ACT_TIMEOUT) -> httpx.Response | None:
        """GET on the health server; None while nothing listens (or it has not said where yet)."""
        if self.health_port is None:
            return None
        try:
            return httpx.get(self.url(path), timeout=timeout)
        except httpx.TransportError:
            return None

    def status(self, path: str) -> int | None:
        response = self.get(path)
        return None if response is None else response.status_code

    def metrics(self) -> str:
        response = self.get("/metrics")
        assert response is not None, "nothing listens on the health port"
        assert response.status_code == 200, f"/metrics answered {response.status_code}"
        return response.text

    def metric(self, name: str, **labels: str) -> float | None:
        return metric_value(self.metrics(), name, **labels)

    # -- waiting ------------------------------------------------------------------------------------------

    def wait_for(self, condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.05) -> T:
        """`wait_for`, failing at once (with the log tail) if the daemon exits meanwhile."""

        def check() -> T:
            value = condition()
            if not value and not self.alive():
                raise DaemonExited(f"the daemon exited while waiting for {what}\n{self.tail()}")
            return value

        return wait_for(check, timeout=timeout, what=what, interval=interval, context=self.tail)

    def wait_no_task_in_flight(self, timeout: float = ACT_TIMEOUT) -> None:
        """Wait for the daemon to be done with every task it took. It counts a task (`tasks_finished_total`, the
        in-flight gauge, and an accepted sync's series: `last_successful_sync_timestamp_seconds`, the synced counts,
        `upload_bytes_total`) once FinishTask's answer is back, a moment after the fake recorded the report: a
        metric read as soon as the report was recorded could still hold the value before it."""
        self.wait_for(
            lambda: self.metric("baton_datadog_tasks_in_flight") == 0, timeout=timeout, what="no task in flight"
        )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """/readyz 200, and the line the daemon logs as it turns ready (`connected to ConductorOne`) written. Its log
        lines are written by a thread of their own, after the event loop queued them: /readyz could answer 200 before
        that line, or the start-up lines before it, were in the file (a test then found no "connected" line)."""
        self.wait_for(lambda: self.status("/readyz") == 200, timeout=timeout, what="/readyz 200")
        self.wait_logged("connected to ConductorOne", timeout=timeout)

    def wait_logged(self, event: str, timeout: float = ACT_TIMEOUT) -> list[dict[str, Any]]:
        """The log records of `event`, once there is one. The daemon's log lines are written by a thread of their own
        (`connector/daemon/logging.py`), a moment after what they tell happened: a line logged before a report, a
        readiness change or an answer the test saw may not be in the file yet. Once it is, every line logged before
        it is too (they are written in order)."""
        return self.wait_for(lambda: self.events(event), timeout=timeout, what=f"the log line {event!r}")


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name` whose labels include `labels`; None when there is none."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


# -- the fakes' records ---------------------------------------------------------------------------------------


def finishes(c1: FakeC1, task_id: str) -> list[FinishRequest]:
    return c1.recorded().finish_tasks.get(task_id, [])


def wait_finished(daemon: Daemon, c1: FakeC1, task_ids: Iterable[str], timeout: float = ACT_TIMEOUT) -> Recorded:
    """Wait until every task has at least one FinishTask; returns the fake's records at that moment."""
    wanted = list(task_ids)

    def done() -> Recorded | None:
        recorded = c1.recorded()
        return recorded if all(recorded.finish_tasks.get(t) for t in wanted) else None

    recorded = daemon.wait_for(done, timeout=timeout, what=f"FinishTask for {len(wanted)} task(s)")
    assert recorded is not None
    return recorded


def only_finish(recorded: Recorded, task_id: str) -> FinishRequest:
    """The one FinishTask of a task; fails when there is none or more than one."""
    requests = recorded.finish_tasks.get(task_id, [])
    assert len(requests) == 1, f"task {task_id}: expected exactly one FinishTask, got {len(requests)}"
    return requests[0]


def assert_success(request: FinishRequest) -> None:
    assert request.WhichOneof("final_state") == "success", (
        f"task {request.task_id} failed: {request.status.code} {request.status.message!r}"
    )
    assert not request.HasField("status"), "a success carries no status"


def assert_error(request: FinishRequest, *, code: int, non_retryable: bool) -> None:
    assert request.WhichOneof("final_state") == "error", f"task {request.task_id} did not fail"
    assert request.status.code == code, f"code {request.status.code} ({request.status.message!r}), expected {code}"
    assert request.error.non_retryable is non_retryable, f"non_retryable is {request.error.non_retryable}"


# -- the stack ---------------------------------------------------------------------------------------------


@dataclass
class Stack:
    """Both fakes, and every daemon a test started against them (stopped and leak-checked at teardown)."""

    c1: FakeC1
    dd: FakeDatadog
    root: Path
    host_id: str = "e2e-host-7f3a"
    daemons: list[Daemon] = field(default_factory=list)
    given: dict[str, str] = field(init=False)
    """The secrets as first given to daemons (a test may rotate a fake's key afterwards)."""

    def __post_init__(self) -> None:
        self.given = {
            "BATON_API_KEY": self.dd.api_key,
            "BATON_APP_KEY": self.dd.app_key,
            "BATON_CLIENT_SECRET": self.c1.client_secret,
            "the client secret's private key": self.c1.credentials.private_d,
        }

    def env(self, overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
        """A clean environment: nothing from the test process but PATH; `None` in overrides removes a variable."""
        env = connector_env(
            self.dd,
            self.c1,
            {"HOME": str(self.root), "TMPDIR": str(self.root / "tmp"), "BATON_HOST_ID": self.host_id},
        )
        for key, value in (overrides or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def start(
        self,
        overrides: Mapping[str, str | None] | None = None,
        *,
        args: Sequence[str] = (),
        wait_ready: bool = True,
    ) -> Daemon:
        n = len(self.daemons) + 1
        temp_dir = self.root / f"daemon-{n}-work"
        temp_dir.mkdir(parents=True)
        (self.root / "tmp").mkdir(exist_ok=True)
        env = self.env({"BATON_C1Z_TEMP_DIR": str(temp_dir), **(overrides or {})})
        stdout_path, stderr_path = self.root / f"daemon-{n}.stdout", self.root / f"daemon-{n}.stderr"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen(
                [*daemon_command(), *args], env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=self.root
            )
        daemon = Daemon(
            process=process,
            env=env,
            stdout_path=stdout_path,
            stderr_path=stderr_path,
            temp_dir=temp_dir,
        )
        self.daemons.append(daemon)
        if wait_ready:
            daemon.wait_ready()
        return daemon

    def run_to_exit(self, overrides: Mapping[str, str | None] | None = None, *, timeout: float = 30.0) -> Daemon:
        """Start a daemon expected to exit by itself (bad settings, rejected keys)."""
        daemon = self.start(overrides, wait_ready=False)
        daemon.wait_exit(timeout)
        return daemon

    def canaries(self) -> dict[str, str]:
        """Every secret the daemons were given or were issued, by what it is."""
        values = dict(self.given)
        values["current BATON_API_KEY"] = self.dd.api_key
        values["current BATON_APP_KEY"] = self.dd.app_key
        for i, token in enumerate(self.c1.recorded().issued_tokens):
            values[f"access token #{i + 1}"] = token
        return values

    def leaks(self, text: str) -> list[str]:
        """Names of the canaries found in `text`."""
        return sorted(name for name, value in self.canaries().items() if value and value in text)

    def stop_all(self) -> None:
        for daemon in self.daemons:
            daemon.stop()
