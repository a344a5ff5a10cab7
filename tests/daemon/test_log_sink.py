"""The log stream failing: a line that cannot be written is dropped, and the code that logged it goes on.

A log call that raised ended whatever made it: with the reader of the log pipe gone, every task died at its first
line, unreported (tests/e2e/test_log_sink.py runs that daemon).
"""

from __future__ import annotations

import errno
import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from connector.daemon import logging as daemon_logging


class _FailingStream(io.StringIO):
    """A stream whose writes fail with `error` while `failing` is set, as a full disk's file or a broken pipe's."""

    def __init__(self, error: OSError) -> None:
        super().__init__()
        self.error = error
        self.failing = True

    def write(self, text: str) -> int:
        if self.failing:
            raise self.error
        return super().write(text)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        yield
    finally:
        structlog.reset_defaults()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), BrokenPipeError(errno.EPIPE, "Broken pipe")],
    ids=["disk full", "broken pipe"],
)
@pytest.mark.usefixtures("restore_logging")
def test_a_log_line_that_cannot_be_written_is_dropped_and_the_caller_goes_on(error: OSError) -> None:
    stream = _FailingStream(error)
    daemon_logging.configure("info", "json", stream)
    log = structlog.get_logger("test")
    log.info("task started", task_id="t1")  # raised OSError into the task
    logging.getLogger("grpc").warning("a library's line")  # printed "--- Logging error ---" to the same stream
    stream.failing = False
    log.info("written again")  # a disk with room again takes the next lines
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["written again"]
