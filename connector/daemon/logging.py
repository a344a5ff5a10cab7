"""structlog configuration, in one place: JSON for containers, console for people, secrets always redacted.

Every secret the process holds for its life (Datadog keys, client secret) is registered here, and so are the
ConductorOne access tokens it fetched lately (they rotate, so only the newest are kept); a processor replaces any
occurrence of one in any log value, so a secret that slips into an error message still never reaches a log.
Credentials minted for ConductorOne are not registered: keeping them here would hold them in memory for the life
of the process, and they are dropped as soon as their task has encrypted them (no code path logs them).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import itertools
import json
import logging
import os
import sys
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, Protocol, TextIO

from connector.baton.lifecycle import LIFECYCLE_FIELD
from connector.baton.printable import printable, surrogates_escaped
from connector.baton.redaction import MIN_SECRET_LENGTH, Patterns, blank_out_patterns, patterns
from connector.baton.tasks.debuglog import TASK_LOGS

REDACTED = "[REDACTED]"
_secrets: set[str] = set()
# Secrets that rotate, by kind: the newest few of each (an old one may still be quoted by a peer for a while).
_rotating: dict[str, deque[str]] = {}
ROTATING_KEPT = 8
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def silence_native_logs() -> None:
    """Keep grpc's C core from writing lines of its own to stderr. It does, in plain text, for a peer's GOAWAY (with
    the peer's debug text, newlines and all: a ConductorOne deploy, a load balancer, or a hostile peer forging a JSON
    line) and for a failed TLS handshake: no JSON, no redaction, and nothing our own lines lack (a call's status
    carries the cause). An operator's own GRPC_VERBOSITY is kept, but an empty one is no setting: grpc reads it as
    unset, and its default writes the core's lines (a chart's `value: ""` let them through). Call it before grpc is
    first imported: its core reads the variable once, then."""
    if not os.environ.get("GRPC_VERBOSITY"):
        os.environ["GRPC_VERBOSITY"] = "NONE"


def native_log_warning(environ: Mapping[str, str]) -> str | None:
    """A start-up warning when the operator's own GRPC_VERBOSITY lets grpc's C core write its trace: those lines go
    to stderr in plain text, past the redactor, and with GRPC_TRACE (`http`, `all`) they quote every header of every
    call to ConductorOne, its access token included. Kept, as `silence_native_logs` keeps it (debugging a TLS or proxy
    problem needs it), but never silently. Judged as grpc reads it: case-insensitively, whitespace and all, and only
    ERROR and NONE keep the trace in; any other value (`WARNING`, `NONE ` with a trailing space, a typo) is no level to
    grpc, which then writes at its default, the trace included. The value named is ours, never the variable's own
    text."""
    raw = environ.get("GRPC_VERBOSITY")
    if not raw or raw.upper() in _QUIET_GRPC_VERBOSITY:
        return None  # unset or empty: NONE (`silence_native_logs`)
    level = raw.upper()  # as grpc compares it: `" debug"` is no DEBUG to it, only a value it does not read
    named = f"is {level}" if level in ("DEBUG", "INFO") else "is set to a value grpc does not read as ERROR or NONE"
    return (
        f"GRPC_VERBOSITY {named}: grpc's C core writes lines of its own to stderr, unredacted, and with GRPC_TRACE "
        "they include ConductorOne's access token; unset it once the debugging is done"
    )


_QUIET_GRPC_VERBOSITY = ("ERROR", "NONE")
"""The GRPC_VERBOSITY values (upper-cased) that keep grpc's core trace off stderr; an empty value is set to NONE at
start (`silence_native_logs`)."""


def register_secret(value: str | None) -> None:
    """Never log this value (ignored when too short to be a secret rather than a common word)."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        _secrets.add(value)
        _renew_patterns()


def register_rotating_secret(kind: str, value: str) -> None:
    """Never log this value while it is one of the newest `ROTATING_KEPT` of its kind (an access token: one an
    hour would otherwise grow the set, and every log line's scan, for the life of the process)."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        _rotating.setdefault(kind, deque(maxlen=ROTATING_KEPT)).appendleft(value)
        _renew_patterns()


_known: Patterns = ()
"""The patterns of the secrets held now (`redaction.patterns`), worked out as one is registered, not for every string of
every log line (20 us a string each time). Replaced whole, so a token that leaves `_rotating` leaves them too: a cache
keyed by the secrets held kept a dropped token in memory."""


def _renew_patterns() -> None:
    global _known
    _known = patterns((*_secrets, *itertools.chain.from_iterable(_rotating.values())))


def redact(text: str, also: Iterable[str] = ()) -> str:
    """`text` without the secrets registered, nor those `also` names (a caller's own: the process boundary's, read
    from the command line before any was registered). In one pass: cleaned by the redactor first and of `also` after,
    a secret of `also` sharing its start with a registered one (every client secret's key begins with the same JWK
    members) lost that start to the first pass and was no longer found by the second, its private key left whole.
    A value of `also` too short to be a secret is left out, as `register_secret` leaves it: a key given as `e` blanked
    out every `e` of a line (review r1503)."""
    long_enough = [value for value in also if len(value) >= MIN_SECRET_LENGTH]
    found = (*_known, *patterns(long_enough)) if long_enough else _known
    return blank_out_patterns(text, found, REDACTED)


MAX_VALUE_CHARS = 32 * 1024
"""The most of one log value written (a traceback, an error's text, a name a peer sent): a longer one keeps its first
and last halves of this and says how much was cut between them. An unexpected error's message quoting a peer's value
went whole into its traceback line (a task naming a 3 MB principal made a 3 MB line; a GetTask answer may hold 32 MiB),
past what a log shipper takes as one line and into the debugged task's in-memory log."""


def bounded(text: str, limit: int = MAX_VALUE_CHARS) -> str:
    """`text`, cut in its middle to `limit` (`MAX_VALUE_CHARS`) as written (JSON-escaped) and the note of the cut.
    After the redactor: a secret is already a placeholder, so no cut can leave part of one."""
    if len(text) * _MOST_ESCAPED <= limit or len(_written(text)) <= limit:
        return text
    # Counted as written, not as characters: an emoji is written as 12 characters, a control character as 6,
    # and 32 Ki of them made lines of 390 KB. Halved until the kept ends fit: a few passes at most.
    half = max(limit // 2, 1)
    while half > 1 and len(_written(text[:half])) + len(_written(text[-half:])) > limit:
        half //= 2
    return f"{text[:half]}…[{len(text) - 2 * half} of {len(text)} characters cut]…{text[-half:]}"


_MOST_ESCAPED = 12
"""The most characters JSON writes for one (a character outside the BMP: two `\\uXXXX` escapes)."""


def _written(text: str) -> str:
    return json.dumps(text)[1:-1]  # as the JSON renderer writes it, without its quotes


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        # Lone surrogates (a file name's bytes that are not UTF-8) as `\\xff`: the JSON renderer wrote `\\udcff`,
        # half a surrogate pair, and a strict reader of the log refused the line.
        return bounded(redact(surrogates_escaped(value)))
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_scrub(v) for v in value)
    if isinstance(value, list | tuple):
        # A subclass as a plain list: a namedtuple is built from its fields, not from one iterable (rebuilt as its own
        # type, it raised out of the log call), and one with its own `__repr__` is written by its items, not its repr.
        return [_scrub(v) for v in value]
    if isinstance(value, BaseException):
        return bounded(redact(surrogates_escaped(f"{type(value).__name__}: {_exception_text(value)}")))
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else is written as its repr, by either renderer (JSON's fallback, the console's) and by a debugged
    # task's log: bytes, a set, a URL or headers object whose repr holds a secret went out whole. Cleaned, it is that
    # text; a value holding no secret and of a loggable length is left as it is.
    try:
        shown = repr(value)
    except Exception:  # written as the stand-in: the renderers would call the same repr
        return _UNPRINTABLE.format(type(value).__name__)
    cleaned = redact(shown)
    return value if cleaned == shown and bounded(shown) is shown else bounded(cleaned)


_UNPRINTABLE = "<unprintable {}>"
"""A value whose text could not be made (its `__str__` or `__repr__` raised): a log call never fails its caller over a
value it was given, as a namedtuple rebuilt from one iterable and a `__repr__` that raised did."""


def _exception_text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return _UNPRINTABLE.format(type(exc).__name__)


_META = ("_record", "_from_structlog")
"""A library's record and its flag (`ProcessorFormatter`'s own, taken off before rendering): never written."""


def _redact_processor(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return {k: v if k in _META else _scrub(v) for k, v in event.items()}


class _Quoted:
    """A value the console renderer shows quoted (its `repr`, which escapes what `str.isprintable` refuses)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return repr(self.text)


def _printable_processor(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Console lines only. The console renderer writes the event text and a traceback as they are, and a value as it
    is unless it holds a space, a newline, `=` or a quote (then repr): all can hold a peer's text (a library's
    message with ConductorOne's status detail, an error's message, a header or id a peer sent): a newline there forged
    a log line of its own, an escape sequence (`\x1b]0;title\x07` has none of those characters) acted on the
    operator's terminal. Such a value is quoted as the others are. JSON escapes what it writes. A traceback keeps its
    line breaks."""
    for key, value in list(event.items()):
        if key == "event":
            if isinstance(value, str):
                event[key] = printable(value)
        elif key == "exception":
            if isinstance(value, str):
                event[key] = "\n".join(map(printable, value.split("\n")))
        elif isinstance(value, str) and not value.isprintable():
            event[key] = _Quoted(value)
    return event


_dropped_writes = 0
_count_dropped: Callable[[float], None] | None = None
_dropping = threading.Lock()


def count_dropped_writes(counter: Callable[[float], None]) -> None:
    """Hand every log line lost from now on, and those lost so far, to `counter` (a metric's `inc`): the one trace
    of lines nobody could read."""
    global _count_dropped
    with _dropping:
        _count_dropped = counter
        if _dropped_writes:
            counter(_dropped_writes)


def _dropped() -> None:
    global _dropped_writes
    with _dropping:  # the writer's thread and the logging ones both count
        _dropped_writes += 1
        if _count_dropped is not None:
            _count_dropped(1)


def terminal(stream: TextIO) -> bool:
    """Whether `stream` is a terminal that takes cursor control: not one that says it has none (TERM=dumb: an
    editor's shell buffer, a CI log viewer), which printed the live line's `ESC[K` and the colors as text."""
    try:
        return stream.isatty() and os.environ.get("TERM", "") != "dumb"
    except (OSError, ValueError):  # a stream closed under us is no terminal
        return False


def colored(stream: TextIO) -> bool:
    """Whether console lines to `stream` get colors: a `terminal` where NO_COLOR is not set to a value
    (https://no-color.org: the convention a CLI user sets once for every program)."""
    return terminal(stream) and not os.environ.get("NO_COLOR")


_CLEAR_LINE = "\r\x1b[K"


class StatusLine:
    """The live line at the foot of a terminal (a one-shot sync's progress), redrawn in place. While it shows, a
    log line to the same terminal clears it first (`_Sink`, `_Writer`): written after the progress text, the line
    began on the progress line's, `syncing… grants 80` and a timestamp run together; the next redraw brings it back
    below. On the process's stderr while the log writer runs (`_Stderr`), the writer draws it: a terminal that stops
    taking output (Ctrl-S) holds the writer, not the sync."""

    def __init__(self, stream: TextIO) -> None:
        global _status
        self._stream = stream
        self._writer = stream.writer if isinstance(stream, _Stderr) else None
        self.shown = False
        _status = self

    def show(self, text: str) -> None:
        if self._writer is not None:
            self._writer.status(text)
        else:
            self._stream.write(_CLEAR_LINE + text)
            self._stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.shown = False
            if self._writer is not None:
                self._writer.status(None)
            else:
                self._stream.write(_CLEAR_LINE)
                self._stream.flush()


_status: StatusLine | None = None


def _write_failed(exc: Exception, fd: int | None) -> None:
    """A write to the log's stream failed: the line is lost and counted, never the work that wrote it. With the reader
    of a log pipe gone (a log shipper or journald restarted, `| tee` killed: EPIPE) or a log file's disk full, every
    log call raised: a task's first line ended it before anything ran, unreported and uncounted."""
    _dropped()
    if isinstance(exc, BrokenPipeError) and fd is not None:
        # No reader will come back to this pipe: its descriptor goes to /dev/null (Python's own advice for EPIPE), so
        # what a stream still holds drains there. Kept, it failed Python's last flush at exit, and a drained daemon
        # exited 120, not 0. A full disk may recover, and is written to again.
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, fd)
            finally:
                os.close(null)


class _Sink(io.TextIOBase):
    """A log stream in memory or without a descriptor (a caller's own buffer: it never blocks), written as each line
    comes, whose write failures are dropped (`_write_failed`). The standard library's handler only prints such a
    failure, to the same broken stream."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def line(self, text: str, urgent: bool, lifecycle: bool = False) -> None:
        self.write(text)
        self.flush()

    def write(self, text: str) -> int:
        try:
            if _status is not None and _status.shown:
                _status.clear()
            return self._inner.write(text)
        except (OSError, ValueError) as exc:  # ValueError: a stream closed under us
            self._failed(exc)
            return len(text)

    def flush(self) -> None:
        try:
            self._inner.flush()
        except (OSError, ValueError) as exc:
            self._failed(exc)

    def _failed(self, exc: Exception) -> None:
        fd = None
        with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
            fd = self._inner.fileno()
        _write_failed(exc, fd)

    def isatty(self) -> bool:
        try:
            return self._inner.isatty()
        except (OSError, ValueError):
            return False


QUEUE_CHARS = 1024 * 1024
"""The most log text waiting for the stream (a megabyte: a busy daemon's lines for a while, what a log shipper's
hiccup needs): past it a line is dropped, counted, and the count written where it was dropped once the stream takes
lines again. Never waited for: a reader that stopped reading (a stuck sidecar, a paused `kubectl logs` pipe, a
container runtime under pressure) blocked the write, and with it the event loop (/healthz, heartbeats, lease
renewals, a revoke's report), and SIGTERM, for good. Held twice at most: the queue and the batch being written."""

KEPT_CHARS = 1024 * 1024
"""Room of their own for the lines never dropped for a full queue (`kept`): an error's or worse (a failed revoke, a
task not reported, a fatal error), a lifecycle line (`connector/baton/lifecycle.py`: starting, connected, shutdown
requested, draining, stopped), and what the process and Python print to stderr themselves (a failed run's closing
line, a crash's, a Python warning: `_route_python_output`).
A flood of them is bounded too: past it they are dropped and counted as the others are."""

LIFECYCLE_CHARS = 64 * 1024
"""Room of their own for lifecycle lines, beyond `KEPT_CHARS`: a run of error lines (a task failure each, which
ConductorOne's tasks drive) behind a stalled reader filled the kept room, and the "draining" and "stopped" lines after
it were dropped. A run logs a handful of them, never a flood."""


def kept(level: int, event: Mapping[str, Any] | None = None) -> bool:
    """Whether a line at `level` (of `event`, a structlog line's) has the room never dropped for a full queue
    (`KEPT_CHARS`): an error's or worse, a lifecycle line, or Python's own output (`_PYTHON_OUTPUT`), whatever its
    level. The one rule: behind a stalled reader, the "draining" and "stopped" lines were dropped with the rest, and
    nothing said the daemon was stopping, nor why."""
    return level >= logging.ERROR or (
        event is not None and (event.get(LIFECYCLE_FIELD) is True or event.get(_PYTHON_OUTPUT) is True)
    )


_PYTHON_OUTPUT = "_python_output"
"""Marks a line made of what Python itself writes to stderr (a warning: `_warning_line`), True; never written. Such a
line is `kept` and shown at every --log-level, as it was when Python wrote it to stderr (`_Stderr`): made a log line at
warning level, it was dropped behind a stalled reader and filtered out under `--log-level error`."""


DRAIN_SECONDS = 1.0
"""How long the run's end waits for the log writer to write what it holds (the closing lines): then the process
exits without it. Short, as it comes after a service's drain, which the chart's terminationGracePeriodSeconds
budgets; ample for a stream that is read (two megabytes at most)."""


class _Same:
    """The live line's text is unchanged (`_Writer.status`)."""


_SAME = _Same()


class _Writer:
    """The one writer of the log's stream when it is a descriptor (the process's stderr): log lines are queued by
    whichever thread logs (the event loop's above all) and written on a daemon thread of their own, to the descriptor
    itself, past Python's buffered stream: that thread blocked in a write holds no lock the exit needs, and being a
    daemon thread it never keeps the process (`connector/daemon/exiting.py`)."""

    def __init__(self, fd: int, encoding: str, note: Callable[[int], str]) -> None:
        self.fd = fd
        self._encoding = encoding
        self._note = note
        self._cond = threading.Condition()
        # A line, or how many lines were dropped at that place (one count for a run of them).
        self._items: deque[str | int] = deque()
        self._queued = 0
        self._kept = 0
        self._lifecycle = 0
        self._status: str | _Same | None = _SAME
        self._busy = False
        self._stopping = False
        self._shown = False  # the writer thread's own: whether the live line is on the terminal now
        self._torn = False  # the writer thread's own: whether the last line written failed partway (`_write`)
        self.gave_up = False
        self._thread = threading.Thread(target=self._run, name="log writer", daemon=True)
        self._thread.start()

    def line(self, text: str, urgent: bool, lifecycle: bool = False) -> None:
        """Queue `text`, or drop and count it when its room is full."""
        with self._cond:
            if lifecycle and self._lifecycle + len(text) <= LIFECYCLE_CHARS:
                self._lifecycle += len(text)
            elif urgent and self._kept + len(text) <= KEPT_CHARS:
                self._kept += len(text)
            elif not urgent and self._queued + len(text) <= QUEUE_CHARS:
                self._queued += len(text)
            else:
                last = self._items[-1] if self._items else None
                if isinstance(last, int):
                    self._items[-1] = last + 1
                else:
                    self._items.append(1)
                _dropped()
                return
            self._items.append(text)
            self._cond.notify_all()

    def status(self, text: str | None) -> None:
        """Draw the live line (None: take it away) once the lines queued before it are written."""
        with self._cond:
            self._status = text
            self._cond.notify_all()

    def drain(self, seconds: float) -> bool:
        """Wait up to `seconds` for everything queued to be written; False when it was not (and from then on at once:
        a stream that took nothing for that long is not waited for again)."""
        with self._cond:
            done = self._cond.wait_for(self._idle, timeout=0.0 if self.gave_up else seconds)
            self.gave_up = self.gave_up or not done
            return done

    def stop(self) -> None:
        """End the thread once it has written what it holds (another stream replaces this one)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def _idle(self) -> bool:
        return not self._items and not self._busy and self._status is _SAME

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: not self._idle() or self._stopping)
                if self._idle():
                    return  # stopping, with nothing left to write
                items = list(self._items)
                self._items.clear()
                self._queued = self._kept = self._lifecycle = 0
                status, self._status = self._status, _SAME
                self._busy = True
            try:
                for item in items:
                    if self._shown:
                        self._shown = False
                        self._write(_CLEAR_LINE)
                    self._write(self._note(item) if isinstance(item, int) else item)
                if isinstance(status, str):
                    self._write(_CLEAR_LINE + status)
                    self._shown = True
                elif status is None and self._shown:
                    self._shown = False
                    self._write(_CLEAR_LINE)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _write(self, text: str) -> None:
        # Escaped as Python's stderr escapes what its encoding lacks (a name with an emoji under an ASCII locale): no
        # character ends the writer's thread.
        encoded = text.encode(self._encoding, "backslashreplace")
        if self._torn:
            # The line before failed partway (a full disk, a non-blocking pipe's EAGAIN): its start was written without
            # its end. A newline first, or this line was glued onto it and two JSON lines broke where one was counted.
            encoded = b"\n" + encoded
        data = memoryview(encoded)
        while data:
            try:
                data = data[os.write(self.fd, data) :]
            except OSError as exc:
                written = len(encoded) - len(data)
                if written:  # nothing out: a tear before stays one; only the newline out: mended, nothing torn
                    self._torn = not (self._torn and written == 1)
                _write_failed(exc, self.fd)
                return
        self._torn = False


_writer: _Writer | None = None


class _Stderr(io.TextIOBase):
    """`sys.stderr` while the log writer owns the process's stderr: what the process prints there itself (a failed
    run's closing line, a crash's, Python's own text for a warning its log line could not carry: `_warning_line`) is
    queued after the log lines before it, whole lines at a time, never dropped for a full queue; printed past the
    writer, it blocked the exit on a full pipe for good. Python's warnings and the exceptions it reports itself are log
    lines (`_route_python_output`), in the same room and at every level.

    Each line is redacted, as a log line is: the interpreter writes here text it was given, past the log's processors
    (logging's own "--- Logging error ---" with the arguments of a call it could not format; an uncaught exception's
    traceback in a thread or in a `__del__` and a warning's message, when the log cannot take them as its own lines,
    `_route_python_output`), and a secret among them went out whole. Whole lines are what is redacted: a secret written
    in two pieces is found once its line is complete."""

    def __init__(self, writer: _Writer, inner: TextIO) -> None:
        self.writer = writer
        self.inner = inner
        self._partial = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            done, newline, self._partial = (self._partial + text).rpartition("\n")
            if newline:
                self.writer.line(redact(done) + newline, urgent=True)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            partial, self._partial = self._partial, ""
        if partial:
            self.writer.line(redact(partial), urgent=True)

    def isatty(self) -> bool:
        try:
            return self.inner.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self.inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]  # typeshed declares a plain attribute
        return self.inner.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.inner.errors


def drain(seconds: float = DRAIN_SECONDS) -> bool:
    """Wait up to `seconds` for the log writer to write what it holds (the run's last lines); False when the stream
    did not take it in that time. Never on the event loop: it blocks."""
    return _writer is None or _writer.drain(seconds)


def finish(seconds: float = DRAIN_SECONDS) -> bool:
    """At the process's exit: when log lines were dropped during the run, a last line says how many and why (the one
    place a reader of the log, with a gap in it, is told), then the writer is drained for at most `seconds`. False
    when the stream took none of it in that time: the process exits without it (its writer's thread is a daemon)."""
    if _writer is not None and _dropped_writes and not _writer.gave_up:
        _writer.line(
            f"baton-datadog: {_dropped_writes} log lines were dropped: the log stream (stderr) was not read fast "
            "enough, or failed\n",
            urgent=True,
        )
    return drain(seconds)


def _descriptor(stream: TextIO) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


class _Output(Protocol):
    def line(self, text: str, urgent: bool, lifecycle: bool = False) -> None: ...


def _output(stream: TextIO | None, note: Callable[[int], str]) -> _Output:
    """Where log lines go: the writer for a stream on a descriptor (the process's stderr, which a reader may stop
    reading), the stream itself otherwise. `None`: the process's stderr, which the writer then owns (`_Stderr`)."""
    global _writer
    target = stream or sys.stderr
    if isinstance(target, _Stderr):  # configured again: the process's stderr itself
        target = target.inner
    if _writer is not None:
        _writer.stop()
        _writer = None
    fd = _descriptor(target)
    if fd is None:
        return _Sink(target)
    with contextlib.suppress(OSError, ValueError):
        target.flush()  # what it holds goes first; its buffer is not written to again
    try:
        _writer = _Writer(fd, target.encoding or "utf-8", note)
    except RuntimeError:  # no thread could be started: written as each line comes, as before
        return _Sink(target)
    if stream is None:
        sys.stderr = _Stderr(_writer, target)
    return _writer


class _Lines:
    """structlog's logger: each rendered line to the log's output, with whether it is `kept` (`_laned` decided it; the
    methods are the level names structlog calls)."""

    def __init__(self, out: _Output) -> None:
        self._out = out

    def _line(self, message: str, *, urgent: bool = False, lifecycle: bool = False) -> None:
        self._out.line(message + "\n", urgent, lifecycle)

    debug = info = msg = warn = warning = error = exception = critical = fatal = _line


def _laned(render: Callable[..., str]) -> Callable[..., tuple[tuple[str], dict[str, bool]]]:
    """structlog's last processor: the rendered line, whether it is `kept` and whether it is a lifecycle line (read
    before rendering), for `_Lines`."""

    def laned(logger: Any, method_name: str, event: MutableMapping[str, Any]) -> tuple[tuple[str], dict[str, bool]]:
        urgent = kept(_METHOD_LEVELS.get(method_name, logging.CRITICAL), event)
        lifecycle = event.get(LIFECYCLE_FIELD) is True
        event.pop(_PYTHON_OUTPUT, None)  # the lane's mark, not the line's
        return (render(logger, method_name, event),), {"urgent": urgent, "lifecycle": lifecycle}

    return laned


class _LineHandler(logging.Handler):
    """The standard library's records (the libraries' own), to the same output as structlog's lines."""

    def __init__(self, out: _Output) -> None:
        super().__init__()
        self._out = out

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self._out.line(text + "\n", kept(record.levelno))


MAX_LINE_CHARS = 3 * MAX_VALUE_CHARS
"""The most of one written line, counted as written (a cut one's note included). Each value is bounded
(`MAX_VALUE_CHARS`), not the line: a list of many bounded values (thousands of ids, each cut to its bound) made one
line of megabytes. Room for a few values at their bound (an error's text and its traceback) whole. A longer line has
its largest values cut until it fits, says so (`line_cut`), and stays one JSON object when JSON is written."""

LINE_CUT = "line_cut"
_LINE_KEPT = ("event", "level", "timestamp", "logger", "task_id", "task_type")
"""What a cut line keeps whole: what happened, when, how bad, whose (each a value already bounded)."""
_CUT_NOTE_ROOM = 200
"""Room for the line's note (`line_cut`)."""
_VALUE_NOTE_ROOM = 64
"""Room for a cut value's note and quotes (`bounded`'s `…[N of M characters cut]…`)."""


def _bounded_line(render: Callable[..., Any], fmt: str) -> Callable[..., str]:
    def rendered(logger: Any, method_name: str, event: MutableMapping[str, Any]) -> str:
        line: str = render(logger, method_name, event)  # text: the JSON renderer's default serializer
        if len(line) <= MAX_LINE_CHARS:
            return line
        if fmt != "json":
            # A console line is text: cut in its middle, the cut said there.
            return bounded(line, MAX_LINE_CHARS - _VALUE_NOTE_ROOM)
        return _fitted_json(line)

    return rendered


def _fitted_json(line: str) -> str:
    """`line` (one JSON object, as the renderer wrote it: ASCII) with its largest values cut, largest first, until it
    is within `MAX_LINE_CHARS`; a value that is no string is cut as its JSON text."""
    record: dict[str, Any] = json.loads(line)
    sizes = {key: len(json.dumps(value)) for key, value in record.items() if key not in _LINE_KEPT}
    length = len(line)
    cut: list[str] = []
    for key in sorted(sizes, key=sizes.__getitem__, reverse=True):
        excess = length + _CUT_NOTE_ROOM - MAX_LINE_CHARS
        if excess <= 0:
            break
        value = record[key]
        text = value if isinstance(value, str) else json.dumps(value)
        record[key] = bounded(text, max(sizes[key] - excess - _VALUE_NOTE_ROOM, 0))
        length += len(json.dumps(record[key])) - sizes[key]
        cut.append(key)
    note = f"{len(line)} characters as written, cut to at most {MAX_LINE_CHARS}"
    record[LINE_CUT] = bounded(f"{note}; values cut: {', '.join(cut)}", _CUT_NOTE_ROOM)
    fitted = json.dumps(record)
    if len(fitted) <= MAX_LINE_CHARS:
        return fitted
    # Too many keys to cut each to a stub: only what every line keeps, the event at its value's bound and the others
    # at a fraction of it (a caller may bind any of them), and the note.
    kept = {key: _kept_value(key, record[key]) for key in _LINE_KEPT if key in record}
    return json.dumps(kept | {LINE_CUT: f"{note}; its {len(record) - len(kept) - 1} other values left out"})


def _kept_value(key: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else json.dumps(value)
    return bounded(text, MAX_VALUE_CHARS if key == "event" else MAX_VALUE_CHARS // 16)


_METHOD_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


def _stream_gates(stream_level: int) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The two processors that keep the stream at `stream_level` while a debugged task's lines are kept at debug
    (connector/baton/tasks/debuglog.py): the first drops a line below the level at once, before anything is built,
    unless a task is debugged now; the second, after the debugged task's processor kept the line, drops it from the
    stream. The logger itself filters nothing: a line below the level must reach the debug log while such a task
    runs."""
    import structlog

    def below(method_name: str, event: MutableMapping[str, Any]) -> bool:
        # Python's own output is shown at every level, as when Python wrote it to stderr itself (`_PYTHON_OUTPUT`).
        return (
            _METHOD_LEVELS.get(method_name, logging.CRITICAL) < stream_level and event.get(_PYTHON_OUTPUT) is not True
        )

    def unless_debugged(_: Any, method_name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if not TASK_LOGS.active and below(method_name, event):
            raise structlog.DropEvent
        return event

    def stream_only_at_level(_: Any, method_name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if below(method_name, event):
            raise structlog.DropEvent
        return event

    return unless_debugged, stream_only_at_level


def configure(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    """Log at `level` in `fmt` to `stream`, by default the process's stderr, which a writer thread then owns
    (`_Writer`: a reader that stops reading never blocks the caller)."""
    # Imported here: the commands that never log (--help, --version, config, a refused setting) call only the
    # functions above, and structlog was a fifth of their start.
    import structlog

    shown = stream or sys.stderr
    render: Callable[..., Any] = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=colored(shown))
    )
    renderer = _bounded_line(render, fmt)

    def dropped_note(count: int) -> str:
        """Where lines were dropped, once the stream takes lines again: how many, in the log's own format."""
        stamp = datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")
        event = {"event": "log lines dropped: the log stream was not read", "dropped": count}
        return renderer(None, "warning", {**event, "level": "warning", "timestamp": stamp}) + "\n"

    out = _output(stream, dropped_note)
    # A debugged task's lines are kept (TASK_LOGS) after the redactor ran and before a console's quoting.
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact_processor,
        TASK_LOGS.processor,
    ]
    console: list[Any] = [] if fmt == "json" else [_printable_processor]
    unless_debugged, stream_only_at_level = _stream_gates(_LEVELS.get(level, logging.INFO))
    structlog.configure(
        processors=[unless_debugged, *shared, stream_only_at_level, *console, _laned(renderer)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory=lambda *args: _Lines(out),
        cache_logger_on_first_use=False,
    )
    # Libraries (httpx, grpc, asyncio) log through the standard library: their records go through the
    # same processors, so they are JSON like every other line and redacted like every other line.
    handler = _LineHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared, *console],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    # A library's own lines below WARNING are never written, at any --log-level: they quote the peer's bytes.
    # httpcore's debug trace holds every response header and the reason phrase, and a Datadog or proxy echoing one
    # (an issued credential in a header) reached the log at debug. The redactor knows only the secrets this process
    # keeps for its life, not a credential it issued nor a key in another spelling, so such lines cannot be cleaned
    # and are not written. The handler's own level holds when a library lowers its logger's level itself.
    # Our own debug lines (structlog's, which say what each call did) are unaffected.
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    if stream is None:
        _route_python_output()


def _route_python_output() -> None:
    """What Python itself writes to stderr, in a run, as log lines: a warning (`warnings.warn`: a library's, a coroutine
    never awaited), an exception ending a thread, and one raised where it cannot propagate (a finalizer, a callback at
    garbage collection). Python wrote each as plain text on two or more lines, in a stream of JSON lines, past the
    redactor: a JSON log pipeline dropped or split them, and a secret in their text reached the log as it was. Each is
    a line never dropped for a full queue and shown at every --log-level, as Python's own text was (`_Stderr`)."""
    warnings.showwarning = _warning_line
    threading.excepthook = _thread_failed_line
    sys.unraisablehook = _unraisable_line


_logging_python_output = threading.local()
"""Set (`active`) while this thread makes a line of Python's own output (`_python_output_line`). Output Python raises
meanwhile (a warning from a processor or a library the pipeline calls, shown at every call with
PYTHONWARNINGS=always) is written as Python writes it, to stderr: made a log line in turn, it raised the same warning
again, and one log call wrote 165 lines before the recursion limit ended it."""


@contextlib.contextmanager
def _python_output_line() -> Iterator[bool]:
    """Yields whether this thread may make a log line of Python's output now (False: it is making one already)."""
    if getattr(_logging_python_output, "active", False):
        yield False
        return
    _logging_python_output.active = True
    try:
        yield True
    finally:
        _logging_python_output.active = False


def _warning_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    if file is None or file is sys.stderr:
        with _python_output_line() as may_log:
            if may_log:
                with contextlib.suppress(Exception):  # a logging that cannot log (at the interpreter's exit): as Python
                    _python_log().warning(
                        "python warning",
                        category=category.__name__,
                        warning=str(message),
                        where=f"{filename}:{lineno}",
                        **{_PYTHON_OUTPUT: True},
                    )
                    return
    # Shown to a file of the caller's choosing, raised while the log makes a line of Python's output, or the log cannot
    # take it: as Python shows it.
    with contextlib.suppress(OSError, ValueError):
        (file or sys.stderr).write(warnings.formatwarning(message, category, filename, lineno, line))


def _thread_failed_line(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return  # as Python's own hook: a thread's normal way out
    with _python_output_line() as may_log:
        if may_log:
            with contextlib.suppress(Exception):  # a logging that cannot log: Python's own words
                _python_log().error(
                    "uncaught exception in a thread",
                    thread=args.thread.name if args.thread is not None else None,
                    exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
                )
                return
    threading.__excepthook__(args)


def _unraisable_line(unraisable: Any) -> None:
    where = unraisable.object
    # No object (Python passes None for some, a failure at its shutdown): none named, not `NoneType`.
    named = {} if where is None else {"object": getattr(where, "__qualname__", None) or type(where).__qualname__}
    with _python_output_line() as may_log:
        if may_log:
            with contextlib.suppress(Exception):  # a logging that cannot log: Python's own words
                _python_log().error(
                    "exception ignored",
                    where=unraisable.err_msg or "Exception ignored in",
                    **named,
                    exc_info=(
                        unraisable.exc_type,
                        unraisable.exc_value or unraisable.exc_type(),
                        unraisable.exc_traceback,
                    ),
                )
                return
    sys.__unraisablehook__(unraisable)


def _python_log() -> Any:
    import structlog

    return structlog.get_logger(__name__)
