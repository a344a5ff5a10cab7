"""The log writer in process, on a pipe the test fills, floods, then reads: a full pipe never blocks the caller, lines
past the queue's room are dropped and counted (the metric's counter, and one line saying how many, written where they
were dropped once the pipe is read again), and the closing lines (an error's, what the process prints to stderr itself
as it ends) are never dropped for it and come last. The drain at the run's end is bounded: a pipe nobody reads is
given up on, and the writer's thread, a daemon one, never keeps the process.

A call that should return but would block is run on a thread joined with a bound: a blocked one fails the test rather
than hang it."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import select
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import pytest
import structlog

from connector.baton.lifecycle import LIFECYCLE, LIFECYCLE_FIELD
from connector.daemon import logging as daemon_logging
from connector.daemon.progress import Progress

BOUND = 10.0
"""How long a call that must not block may take before it is called blocked (a hang bound, not a measurement)."""
ROOM = 4_000
"""The queue's room in these tests (`QUEUE_CHARS`, `KEPT_CHARS`): a few dozen lines, not a megabyte."""


def fill(write_end: int) -> None:
    """Fill the pipe until a write would block (non-blocking only meanwhile)."""
    flags = fcntl.fcntl(write_end, fcntl.F_GETFL)
    fcntl.fcntl(write_end, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    try:
        while True:
            os.write(write_end, b"#" * 4096)
    except BlockingIOError:
        pass
    finally:
        fcntl.fcntl(write_end, fcntl.F_SETFL, flags)


def returns(call: Callable[[], object]) -> None:
    """Run `call` on a thread; fail if it has not returned within `BOUND` (blocked on the pipe)."""
    done = threading.Thread(target=call, daemon=True)
    done.start()
    done.join(BOUND)
    assert not done.is_alive(), "the call blocked on the full log pipe"


@dataclass
class Pipe:
    read_end: int
    write_end: int
    stream: TextIO
    monkeypatch: pytest.MonkeyPatch
    counted: list[float] = field(default_factory=list)

    def as_stderr(self, fmt: str) -> None:
        """Configure the log as a run does, onto the process's stderr, this pipe. Set in the test itself: pytest puts
        its own capture back in `sys.stderr` between a fixture and the test."""
        self.monkeypatch.setattr(sys, "stderr", self.stream)
        daemon_logging.configure("info", fmt)

    def lines_until(self, last: str) -> list[str]:
        """Read the pipe (its filler skipped) until a whole line holding `last`; the lines read up to it. Reading frees
        the writer."""
        data = b""
        while True:
            *whole, _ = data.split(b"\n")
            for at, line in enumerate(whole):
                if last.encode() in line:
                    return b"\n".join(whole[: at + 1]).lstrip(b"#").decode().splitlines()
            readable, _, _ = select.select([self.read_end], [], [], BOUND)
            assert readable, f"no line holding {last!r} came within {BOUND} s"
            chunk = os.read(self.read_end, 65536)
            assert chunk, "the pipe ended before the line"
            data += chunk


@pytest.fixture
def pipe(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipe]:
    """The log's stream a pipe, as the process's stderr; the queue's room `ROOM`; everything put back after."""
    monkeypatch.setattr(daemon_logging, "QUEUE_CHARS", ROOM)
    monkeypatch.setattr(daemon_logging, "KEPT_CHARS", ROOM)
    monkeypatch.setattr(daemon_logging, "_dropped_writes", 0)
    monkeypatch.setattr(daemon_logging, "_count_dropped", None)
    read_end, write_end = os.pipe()
    stream = open(write_end, "w", closefd=False)  # noqa: SIM115  # closed below, after the writer ends
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    piped = Pipe(read_end, write_end, stream, monkeypatch)
    daemon_logging.count_dropped_writes(piped.counted.append)
    try:
        yield piped
    finally:
        structlog.reset_defaults()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        writer = daemon_logging._writer
        daemon_logging._writer = None
        if writer is not None:
            writer.stop()
        os.close(read_end)  # a writer still blocked gets EPIPE, and its descriptor goes to /dev/null
        if writer is not None:
            writer._thread.join(BOUND)
        stream.close()
        os.close(write_end)


def test_a_full_pipe_drops_lines_counts_them_and_keeps_the_closing_lines_last(pipe: Pipe) -> None:
    pipe.as_stderr("json")
    assert isinstance(sys.stderr, daemon_logging._Stderr)  # the writer owns the process's stderr now
    fill(pipe.write_end)
    log = structlog.get_logger("test")
    flood = 200  # of ~130 characters each: 26 kB, six times the queue's room

    def log_the_flood() -> None:
        for n in range(flood):
            log.info("ordinary", n=n)
        log.error("task not reported to ConductorOne", task_id="t-lost")
        print("baton-datadog: the closing line", file=sys.stderr)

    returns(log_the_flood)
    dropped = sum(pipe.counted)
    assert 0 < dropped < flood
    lines = pipe.lines_until("the closing line")
    assert lines[-1] == "baton-datadog: the closing line"
    *records, lost = map(json.loads, lines[:-1])
    assert (lost["event"], lost["task_id"]) == ("task not reported to ConductorOne", "t-lost")
    # Each run of dropped lines is one line saying how many, where they were dropped (the writer may have taken a
    # first batch before the queue filled, and another after).
    notes = [r for r in records if r["event"] == "log lines dropped: the log stream was not read"]
    assert notes
    assert all(r["level"] == "warning" for r in notes)
    assert sum(r["dropped"] for r in notes) == dropped
    written = [r["n"] for r in records if r["event"] == "ordinary"]
    assert written == sorted(set(written))  # in order, none twice
    assert len(written) + dropped == flood
    assert daemon_logging.drain(BOUND)


def _stalled(pipe: Pipe) -> Any:
    """A logger writing JSON to `pipe` as the process's stderr, whose writer took a first line and is blocked writing it
    for good: its queue, once full, stays full."""
    pipe.as_stderr("json")
    fill(pipe.write_end)
    log = structlog.get_logger("test")
    log.info("first")
    writer = daemon_logging._writer
    assert writer is not None
    for _ in range(int(BOUND * 1000)):
        if writer._busy:
            break
        time.sleep(0.001)
    assert writer._busy, "the writer never took the first line"
    return log


def test_lifecycle_lines_behind_a_full_queue_are_kept_as_errors_are(pipe: Pipe) -> None:
    """A daemon stopping behind a reader that stopped reading: its "shutdown requested", "draining", "abandoning" and
    "stopped" lines (info and warning) found the queue full of ordinary lines and were dropped with them, and an
    operator whose reader came back never saw that the daemon stopped, nor why. They have the errors' room."""
    log = _stalled(pipe)

    def stop_behind_a_full_queue() -> None:
        for n in range(200):  # six times the queue's room, as above
            log.info("ordinary", n=n)
        log.info("shutdown requested", signal="SIGTERM", **LIFECYCLE)
        log.info("draining", tasks=1, grace_seconds=2, **LIFECYCLE)
        log.warning("abandoning tasks still running after the grace period", tasks=1, **LIFECYCLE)
        log.info("ordinary after the flood")
        log.info("stopped", **LIFECYCLE)
        print("baton-datadog: the closing line", file=sys.stderr)

    returns(stop_behind_a_full_queue)
    records = [json.loads(line) for line in pipe.lines_until("the closing line")[:-1]]
    assert "ordinary after the flood" not in [r["event"] for r in records]  # the queue was full: dropped, counted
    assert [r["event"] for r in records if r.get(LIFECYCLE_FIELD) is True] == [
        "shutdown requested",
        "draining",
        "abandoning tasks still running after the grace period",
        "stopped",
    ]
    assert daemon_logging.drain(BOUND)


def test_lifecycle_lines_behind_a_flood_of_errors_are_kept(pipe: Pipe) -> None:
    """A task failure is an error line each, and ConductorOne's tasks drive how many: behind a stalled reader they
    filled the room errors have, and the "draining" and "stopped" lines after them were dropped with the errors past
    it. Lifecycle lines have a room of their own."""
    log = _stalled(pipe)
    flood = 4 * daemon_logging.KEPT_CHARS // 250  # however long a value may be, past the room

    def stop_behind_errors() -> None:
        for n in range(flood):
            log.error("task failed", n=n, error="e" * 200)
        for _ in range(flood):  # and short ones, to the room's last bytes
            log.error("x")
        log.info("draining", tasks=1, grace_seconds=2, **LIFECYCLE)
        log.info("stopped", tasks_unreported=0, **LIFECYCLE)

    returns(stop_behind_errors)
    lines = pipe.lines_until('"tasks_unreported"')
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert [r["event"] for r in records if r.get(LIFECYCLE_FIELD) is True] == ["draining", "stopped"]
    errors = [r["n"] for r in records if r["event"] == "task failed"]
    assert 0 < len(errors) < flood  # the errors' own room held some; the rest were dropped and counted
    assert daemon_logging.drain(BOUND)


def test_writing_resumes_after_a_drop_with_the_count_where_the_lines_were_lost(pipe: Pipe) -> None:
    daemon_logging.configure("info", "json", pipe.stream)
    assert not isinstance(sys.stderr, daemon_logging._Stderr)  # a stream given: the process's stderr is left alone
    fill(pipe.write_end)
    log = structlog.get_logger("test")

    def flood() -> None:
        for n in range(100):
            log.info("before", n=n)
        log.error("end of the flood")

    returns(flood)
    before = [json.loads(line) for line in pipe.lines_until("end of the flood")]
    assert sum(r.get("dropped", 0) for r in before) == sum(pipe.counted) > 0
    log.info("after")
    assert daemon_logging.drain(BOUND)
    after = pipe.lines_until('"after"')
    assert [json.loads(line)["event"] for line in after] == ["after"]  # no note again: nothing more was lost


def test_the_drain_at_the_end_gives_up_on_a_pipe_nobody_reads(pipe: Pipe) -> None:
    pipe.as_stderr("json")
    fill(pipe.write_end)
    returns(lambda: structlog.get_logger("test").error("fatal", reason="stopping"))
    assert not daemon_logging.drain(0.2)
    # Given up: the exit's later waits return at once (`exiting.leave`, `cli.main`).
    assert daemon_logging._writer is not None
    assert daemon_logging._writer.gave_up
    assert not daemon_logging.finish()
    writers = [t for t in threading.enumerate() if t.name == "log writer"]
    assert writers
    assert all(t.daemon for t in writers)  # never joined by the interpreter's exit


def test_the_exit_says_how_many_lines_were_dropped(pipe: Pipe) -> None:
    pipe.as_stderr("json")
    fill(pipe.write_end)
    returns(lambda: [structlog.get_logger("test").info("ordinary", n=n) for n in range(100)])
    finished = threading.Thread(target=daemon_logging.finish, daemon=True)
    finished.start()
    lines = pipe.lines_until("log lines were dropped")
    finished.join(BOUND)
    assert lines[-1] == (
        f"baton-datadog: {int(sum(pipe.counted))} log lines were dropped: the log stream (stderr) was not read fast "
        "enough, or failed"
    )


def test_a_library_records_error_is_kept_as_structlogs_are(pipe: Pipe) -> None:
    pipe.as_stderr("json")
    fill(pipe.write_end)

    def flood() -> None:
        for n in range(100):
            logging.getLogger("grpc").warning("ordinary %d", n)
        logging.getLogger("grpc").error("the channel failed")

    returns(flood)
    assert sum(pipe.counted) > 0
    events = [json.loads(line)["event"] for line in pipe.lines_until("the channel failed")]
    assert events[-1] == "the channel failed"
    assert "log lines dropped: the log stream was not read" in events


def test_the_live_line_is_drawn_by_the_writer_and_cleared_before_a_log_line(pipe: Pipe) -> None:
    pipe.as_stderr("console")
    progress = Progress(sys.stderr, live=True)
    progress.page_stored("resources", "user", 5)
    assert daemon_logging.drain(BOUND)
    structlog.get_logger("test").info("a line")
    assert daemon_logging.drain(BOUND)
    progress.finish()  # already cleared by the line: nothing more is written
    assert daemon_logging.drain(BOUND)
    os.set_blocking(pipe.read_end, False)
    _, shown, line = os.read(pipe.read_end, 65536).decode().split("\r\x1b[K")
    assert shown.startswith("syncing…")
    assert "resources        5" in shown
    assert "a line" in line
    assert line.endswith("\n")


def test_a_line_whose_write_failed_partway_does_not_take_the_next_line_with_it(
    pipe: Pipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk (ENOSPC) or a non-blocking pipe's EAGAIN after part of a line went out: the next line was written
    # onto the torn one's start, so two JSON lines broke where one was counted dropped.
    real_write = os.write
    fail_after: list[int] = []

    def write(fd: int, data: bytes | memoryview) -> int:
        if fd == pipe.write_end and fail_after:
            if fail_after[0] == 0:
                fail_after.clear()
                raise OSError(28, "No space left on device")
            part = min(fail_after[0], len(data))
            fail_after[0] -= part
            return real_write(fd, bytes(data[:part]))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    daemon_logging.configure("info", "json", pipe.stream)
    log = structlog.get_logger("test")
    fail_after.append(20)  # the first 20 bytes of the next line, then the disk is full
    log.info("torn", filler="x" * 200)
    log.info("whole")
    assert daemon_logging.drain(BOUND)
    lines = pipe.lines_until('"whole"')
    assert json.loads(lines[-1])["event"] == "whole"
    assert len(lines[-2]) == 20  # the torn start, on a line of its own
    assert sum(pipe.counted) == 1
