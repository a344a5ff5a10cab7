"""Python's own output keeps what it had as plain text on stderr: never dropped for a full queue, shown at every
--log-level, and one line for one warning.

Made log lines (`test_python_output.py`), Python's warnings went through the ordinary lane at warning level: behind a
reader that stopped reading they were dropped with the info lines (`_Stderr`, which they went through before, never
drops them), and `--log-level error` filtered them out. A warning raised inside the log pipeline (a processor, or a
library it calls, warning on each call, with PYTHONWARNINGS=always) was made a log line, which raised it again: one
log call wrote 165 lines until the recursion limit ended it. An exception Python could not raise whose object is None
was logged as `object: "NoneType"`.

The first three run a Python of their own: the writer owns that process's stderr, and its hooks are its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from connector.daemon import logging as daemon_logging

ROOT = Path(__file__).resolve().parents[3]


def _run(script: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


_STALLED = r"""
import os, sys, threading, warnings
r, w = os.pipe()
sys.stderr = os.fdopen(w, "w")
from connector.daemon import logging as logs
import structlog
logs.configure("info", "json")
log = structlog.get_logger("x")
for i in range(4000):  # a reader that stopped reading: the queue of ordinary lines fills
    log.info("filler " + "y" * 500, i=i)
warnings.warn("CANARY-WARNING a library's warning " + "z" * 1000, RuntimeWarning)  # longer than a filler line
chunks = []
def reader():
    while b := os.read(r, 65536):
        chunks.append(b)
reading = threading.Thread(target=reader, daemon=True)
reading.start()
assert logs.drain(10)
logs._writer.stop(); logs._writer._thread.join(5)
os.close(w)  # the reader reads to the end
reading.join(10)
lines = b"".join(chunks).decode().splitlines()
print(sum("dropped" in line for line in lines), sum("CANARY-WARNING" in line for line in lines))
"""


def test_a_python_warning_behind_a_stalled_reader_is_not_dropped() -> None:
    """Info lines fill the queue behind a reader that stopped reading, then a library warns: once the reader reads
    again the warning is there (and the info lines past the queue were dropped, said so)."""
    dropped, warned = map(int, _run(_STALLED).split())
    assert dropped >= 1
    assert warned == 1


_LEVEL = r"""
import sys, warnings, tempfile
path = tempfile.mktemp()
sys.stderr = open(path, "w")
from connector.daemon import logging as logs
logs.configure("error", "json")
warnings.warn("CANARY-WARNING a library's warning", RuntimeWarning)
assert logs.drain(5)
print(open(path).read(), end="")
"""


def test_a_python_warning_is_shown_at_log_level_error() -> None:
    """Python showed its warnings whatever the log level; as log lines they were filtered out under
    `--log-level error`. It is one JSON line at warning level, without the lane's mark."""
    (line,) = _run(_LEVEL).splitlines()
    record = json.loads(line)
    assert (record["event"], record["level"], record["category"]) == ("python warning", "warning", "RuntimeWarning")
    assert record["warning"] == "CANARY-WARNING a library's warning"
    assert not [key for key in record if key.startswith("_")]


_RECURSION = r"""
import sys, warnings, tempfile
path = tempfile.mktemp()
sys.stderr = open(path, "w")
from connector.daemon import logging as logs
import structlog
logs.configure("info", "json")
processors = structlog.get_config()["processors"]
def deprecated(_, __, event):  # a processor (a library call in it) that warns on each line
    warnings.warn("a deprecated call in the log pipeline", DeprecationWarning, stacklevel=1)
    return event
structlog.configure(processors=[deprecated, *processors])
warnings.simplefilter("always")  # PYTHONWARNINGS=always, -W always
structlog.get_logger("x").info("one line")
assert logs.drain(5)
print(open(path).read(), end="")
"""


def test_a_warning_raised_while_logging_does_not_recurse() -> None:
    """A processor warning on every line, every warning shown: the log call's line, the warning it raised as a log
    line, and the warning that line raised in turn as Python writes it (two lines of text), no more."""
    lines = _run(_RECURSION).splitlines()
    assert len(lines) <= 4, lines
    events = [json.loads(line)["event"] for line in lines if line.startswith("{")]
    assert sorted(events) == ["one line", "python warning"]
    assert sum("DeprecationWarning: a deprecated call in the log pipeline" in line for line in lines) == 1


class _Unraisable:
    """What Python hands `sys.unraisablehook`, for an exception with no object to name."""

    def __init__(self, exc: BaseException) -> None:
        self.exc_type = type(exc)
        self.exc_value = exc
        self.exc_traceback = exc.__traceback__
        self.err_msg = "Exception ignored while finalizing"
        self.object = None


def test_an_exception_python_could_not_raise_without_an_object_names_none(monkeypatch: Any) -> None:
    """`sys.unraisablehook` without an object (Python passes None with its own message): `object` was `NoneType`,
    the type of no object; none is named."""
    logged: list[dict[str, Any]] = []

    class Log:
        def error(self, event: str, **fields: Any) -> None:
            logged.append({"event": event, **fields})

    monkeypatch.setattr(daemon_logging, "_python_log", Log)
    daemon_logging._unraisable_line(_Unraisable(ValueError("at exit")))
    ((record),) = logged
    assert record["where"] == "Exception ignored while finalizing"
    assert "object" not in record


def test_an_exception_python_could_not_raise_while_logging_one_goes_to_pythons_hook(monkeypatch: Any) -> None:
    """The re-entry guard covers each of Python's outputs: an unraisable exception reported while the log makes the
    line of another (a finalizer run by the pipeline) goes to Python's own hook, not into a line in turn."""
    logged: list[str] = []
    shown: list[Any] = []

    class Log:
        def error(self, event: str, **fields: Any) -> None:
            logged.append(event)
            daemon_logging._unraisable_line(_Unraisable(RuntimeError("in a finalizer the pipeline ran")))

    monkeypatch.setattr(daemon_logging, "_python_log", Log)
    monkeypatch.setattr(sys, "__unraisablehook__", shown.append)
    daemon_logging._unraisable_line(_Unraisable(ValueError("at exit")))
    assert logged == ["exception ignored"]
    ((nested),) = shown
    assert str(nested.exc_value) == "in a finalizer the pipeline ran"
    daemon_logging._unraisable_line(_Unraisable(ValueError("after")))  # the guard is down again
    assert logged == ["exception ignored", "exception ignored"]
