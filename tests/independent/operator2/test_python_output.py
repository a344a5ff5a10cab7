"""What Python itself writes to a running daemon's stderr is a log line like any other: JSON (in JSON format), one
line, at its level, and through the redactor.

The log stream is JSON lines, and every secret the process holds is blanked in them; grpc's C core writing its own
plain-text lines there was fixed for exactly that. Python's own output went past both: a warning
(`warnings.warn`: a library's RuntimeWarning, a coroutine never awaited) was written as two lines of plain text, an
exception ending a thread as a plain traceback (`threading.excepthook`), and one raised where it cannot propagate (a
finalizer, a callback at garbage collection: `sys.unraisablehook`) as `Exception ignored in: ...` and a traceback.
A JSON log pipeline drops or mangles such lines, and any secret in their text reached the log as it was.
"""

from __future__ import annotations

import json
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

import pytest

from connector.daemon import logging as daemon_logging

SECRET = "operator2-canary-0123456789abcdef"


class Stderr:
    """A run's stderr: a pipe the writer owns (`configure` without a stream), read back whole."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[str]:
        assert daemon_logging.drain(5.0)
        return self.path.read_text().splitlines()


@pytest.fixture
def run_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Stderr]]:
    opened: list[TextIO] = []

    def configure() -> Stderr:
        path = tmp_path / "stderr"
        out = path.open("w", encoding="utf-8")
        opened.append(out)
        monkeypatch.setattr(sys, "stderr", out)
        # Python's own hooks, as a run has them (pytest has its own in for the session: put back after the test).
        threading.excepthook, sys.unraisablehook = threading.__excepthook__, sys.__unraisablehook__
        daemon_logging.configure("info", "json")
        return Stderr(path)

    daemon_logging.register_secret(SECRET)
    try:
        yield configure
    finally:
        writer, daemon_logging._writer = daemon_logging._writer, None
        if writer is not None:
            writer.stop()
            writer._thread.join(5.0)
        monkeypatch.undo()  # the logging and Python's hooks are put back by tests/conftest.py's `_logging_as_found`
        for out in opened:
            out.close()


def _records(lines: list[str]) -> list[dict[str, Any]]:
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a line of the log is not JSON: {line!r}\n{lines}")
    assert SECRET not in "\n".join(lines)
    return records


def _python_shows(message: warnings.WarningMessage) -> None:
    """How Python shows a warning when nothing replaced `warnings.showwarning` (its `_showwarnmsg_impl`, which pytest
    replaces for each test to record warnings instead)."""
    (message.file or sys.stderr).write(warnings.formatwarning(*_fields(message)))


def _fields(message: warnings.WarningMessage) -> tuple[Any, ...]:
    return message.message, message.category, message.filename, message.lineno, message.line


def test_a_python_warning_is_one_redacted_json_line(run_stderr: Callable[[], Stderr]) -> None:
    stderr = run_stderr()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        setattr(warnings, "_showwarnmsg_impl", _python_shows)  # noqa: B010  # private: put back by catch_warnings
        line = sys._getframe().f_lineno + 1
        warnings.warn(f"a library's warning quoting {SECRET}", RuntimeWarning, stacklevel=1)
    (record,) = _records(stderr.lines())
    assert (record["event"], record["level"], record["category"]) == ("python warning", "warning", "RuntimeWarning")
    assert record["warning"].startswith("a library's warning quoting ")
    assert record["where"] == f"{__file__}:{line}"


def test_an_exception_ending_a_thread_is_one_redacted_json_line(run_stderr: Callable[[], Stderr]) -> None:
    stderr = run_stderr()

    def fails() -> None:
        raise RuntimeError(f"a worker failed holding {SECRET}")

    thread = threading.Thread(target=fails, name="worker-7")
    thread.start()
    thread.join()
    (record,) = _records(stderr.lines())
    assert (record["event"], record["level"], record["thread"]) == (
        "uncaught exception in a thread",
        "error",
        "worker-7",
    )
    assert "RuntimeError: a worker failed holding" in record["exception"]


def test_an_exception_python_could_not_raise_is_one_redacted_json_line(run_stderr: Callable[[], Stderr]) -> None:
    stderr = run_stderr()

    class Finalized:
        def __del__(self) -> None:
            raise ValueError(f"a finalizer failed holding {SECRET}")

    Finalized()  # freed at once (its reference count), its __del__ run there
    (record,) = _records(stderr.lines())
    assert (record["event"], record["level"]) == ("exception ignored", "error")
    assert record["object"].endswith("Finalized.__del__")
    assert "ValueError: a finalizer failed holding" in record["exception"]
