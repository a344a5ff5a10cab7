"""structlog configuration, in one place: JSON for containers, console for people, secrets always redacted.

Every secret the process holds for its life (Datadog keys, client secret) is registered here, and so are the
ConductorOne access tokens it fetched lately (they rotate, so only the newest are kept); a processor replaces any
occurrence of one in any log value, so a secret that slips into an error message still never reaches a log.
Credentials minted for ConductorOne are not registered: keeping them here would hold them in memory for the life
of the process, and they are dropped as soon as their task has encrypted them (no code path logs them).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import logging
import os
import sys
from collections import deque
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, TextIO, cast

from connector.baton.printable import printable
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


def redact(text: str) -> str:
    return blank_out_patterns(text, _known, REDACTED)


MAX_VALUE_CHARS = 32 * 1024
"""The most of one log value written (a traceback, an error's text, a name a peer sent): a longer one keeps its first
and last halves of this and says how much was cut between them. An unexpected error's message quoting a peer's value
went whole into its traceback line (a task naming a 3 MB principal made a 3 MB line; a GetTask answer may hold 32 MiB),
past what a log shipper takes as one line and into the debugged task's in-memory log."""


def bounded(text: str) -> str:
    """`text`, cut in its middle to `MAX_VALUE_CHARS` as written (JSON-escaped) and the note of the cut. After the
    redactor: a secret is already a placeholder, so no cut can leave part of one."""
    if len(text) * _MOST_ESCAPED <= MAX_VALUE_CHARS or len(_written(text)) <= MAX_VALUE_CHARS:
        return text
    # Counted as written, not as characters: an emoji is written as 12 characters, a control character as 6,
    # and 32 Ki of them made lines of 390 KB. Halved until the kept ends fit: a few passes at most.
    half = MAX_VALUE_CHARS // 2
    while half > 1 and len(_written(text[:half])) + len(_written(text[-half:])) > MAX_VALUE_CHARS:
        half //= 2
    return f"{text[:half]}…[{len(text) - 2 * half} of {len(text)} characters cut]…{text[-half:]}"


_MOST_ESCAPED = 12
"""The most characters JSON writes for one (a character outside the BMP: two `\\uXXXX` escapes)."""


def _written(text: str) -> str:
    return json.dumps(text)[1:-1]  # as the JSON renderer writes it, without its quotes


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return bounded(redact(value))
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_scrub(v) for v in value)
    if isinstance(value, list | tuple):
        # A subclass as a plain list: a namedtuple is built from its fields, not from one iterable (rebuilt as its own
        # type, it raised out of the log call), and one with its own `__repr__` is written by its items, not its repr.
        return [_scrub(v) for v in value]
    if isinstance(value, BaseException):
        return bounded(redact(f"{type(value).__name__}: {_exception_text(value)}"))
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


def count_dropped_writes(counter: Callable[[float], None]) -> None:
    """Hand every log write lost from now on, and those lost so far, to `counter` (a metric's `inc`): the one trace
    of lines nobody could read."""
    global _count_dropped
    _count_dropped = counter
    if _dropped_writes:
        counter(_dropped_writes)


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


class StatusLine:
    """The live line at the foot of a terminal (a one-shot sync's progress), redrawn in place. While it shows, a
    log line to the same terminal clears it first (`_Sink`): written after the progress text, the line began on the
    progress line's, `syncing… grants 80` and a timestamp run together; the next redraw brings it back below."""

    def __init__(self, stream: TextIO) -> None:
        global _status
        self._stream = stream
        self.shown = False
        _status = self

    def show(self, text: str) -> None:
        self._stream.write("\r\x1b[K" + text)
        self._stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.shown = False
            self._stream.write("\r\x1b[K")
            self._stream.flush()


_status: StatusLine | None = None


class _Sink(io.TextIOBase):
    """The log's stream, whose write failures are dropped: a log line that cannot be written is lost, never the work
    that wrote it. With the reader of a log pipe gone (a log shipper or journald restarted, `| tee` killed: EPIPE) or
    a log file's disk full, every log call raised: a task's first line ended it before anything ran, unreported and
    uncounted, and the daemon went on polling and dropping every task it was given. The standard library's
    handler only prints such a failure, to the same broken stream."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

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
        global _dropped_writes
        _dropped_writes += 1
        if _count_dropped is not None:
            _count_dropped(1)
        if isinstance(exc, BrokenPipeError):
            # No reader will come back to this pipe: its descriptor goes to /dev/null (Python's own advice for
            # EPIPE), so what the stream still holds drains there. Kept, it failed Python's last flush at exit, and
            # a drained daemon exited 120, not 0. A full disk may recover, and is written to again.
            with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
                null = os.open(os.devnull, os.O_WRONLY)
                try:
                    os.dup2(null, self._inner.fileno())
                finally:
                    os.close(null)

    def isatty(self) -> bool:
        try:
            return self._inner.isatty()
        except (OSError, ValueError):
            return False


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

    def below(method_name: str) -> bool:
        return _METHOD_LEVELS.get(method_name, logging.CRITICAL) < stream_level

    def unless_debugged(_: Any, method_name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if not TASK_LOGS.active and below(method_name):
            raise structlog.DropEvent
        return event

    def stream_only_at_level(_: Any, method_name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if below(method_name):
            raise structlog.DropEvent
        return event

    return unless_debugged, stream_only_at_level


def configure(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    # Imported here: the commands that never log (--help, --version, config, a refused setting) call only the
    # functions above, and structlog was a fifth of their start.
    import structlog

    # Typed as the TextIO that structlog and logging ask for; they use only write, flush and isatty.
    out = cast(TextIO, _Sink(stream or sys.stderr))
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=colored(out))
    )
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
        processors=[unless_debugged, *shared, stream_only_at_level, *console, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    # Libraries (httpx, grpc, asyncio) log through the standard library: their records go through the
    # same processors, so they are JSON like every other line and redacted like every other line.
    handler = logging.StreamHandler(out)
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
