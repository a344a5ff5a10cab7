"""The cyclic garbage collector during the process's start: young objects only.

A start imports ~670 modules and builds the settings: ~95,000 objects the collector tracks, nearly all of which
live as long as the process. With the default thresholds the collector moved each of them through the middle
generation and once through a full collection before the daemon was ready (134 young, 12 middle and one full
collection, which found nothing to free): 41-61 ms of CPU per start on a loaded host, for the cycles the young
collections alone find. So `baton-datadog` starts with young collections only, each after 2,000 new objects
(`START_THRESHOLDS`): 15-17 ms. Turning the collector off altogether saved those too but left the start's young garbage in place
until the end, and the live objects spread over more memory: +0.5 MB of idle RSS (docs/benchmarks.md,
"Start-to-ready (issue 12 goal 6, helper perf36)").

When the start is over, the thresholds are put back, and the next collections take what the start promoted: a
command other than the connector's run (`inspect`, `config`, ...) and a one-shot run put them back at once,
before their work; the service a moment after it is first ready (`resume_after_ready`: the middle collection runs
then, on an idle daemon, not between the Hello and the first answer of `/readyz`), and in any case `MAX_PAUSE_SECONDS`
after its loop starts (`bound_pause`): a start that waits (ConductorOne unreachable, Hello retried for minutes)
never runs long that way. The CLI puts them back on every way out, too.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

START_THRESHOLDS = (2_000, 1 << 30, 1 << 30)
"""Young collections every 2,000 new objects; none of the middle or the oldest generation."""
MAX_PAUSE_SECONDS = 10.0
"""Longest the service runs with `START_THRESHOLDS`, from its loop's start: a start takes well under a second."""
SETTLE_SECONDS = 1.0
"""How long after the first ready the thresholds are put back."""

SETTLED_EVENT = "start over: the collector's own thresholds are back"

_saved: tuple[int, int, int] | None = None


def pause() -> None:
    """Collect only young objects from now on, until `resume`."""
    global _saved
    if _saved is None:
        _saved = gc.get_threshold()
        gc.set_threshold(*START_THRESHOLDS)


def resume() -> None:
    """Put back the thresholds `pause` replaced; idempotent."""
    global _saved
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None


def paused() -> bool:
    return _saved is not None


def bound_pause() -> None:
    """Resume within `MAX_PAUSE_SECONDS` whatever the start waits for (call it from the running loop)."""
    if _saved is not None:
        _loop().call_later(MAX_PAUSE_SECONDS, _settle)


def resume_after_ready() -> None:
    """The service is ready: resume `SETTLE_SECONDS` later (call it from the running loop)."""
    if _saved is not None:
        _loop().call_later(SETTLE_SECONDS, _settle)


def _settle() -> None:
    """Resume, and collect the middle generation the start filled now, while the service is idle. With the thresholds
    back, that collection otherwise came with the next young one, at once or only after up to 700 more allocations
    (seconds on an idle daemon), depending on where the start's own allocations had left the young count: any change
    to what the start allocates moved it. A debug line says so, with the full collections the start made (none is
    the point of the pause): from outside, the moment is otherwise unknowable (the counters move as they do later)."""
    if _saved is not None:
        full = gc.get_stats()[2]["collections"]
        resume()
        gc.collect(1)
        import structlog  # here: see `_loop`

        structlog.get_logger(__name__).debug(
            SETTLED_EVENT, full_collections=full, middle_collections=gc.get_stats()[1]["collections"]
        )


def _loop() -> asyncio.AbstractEventLoop:
    import asyncio  # here: this module is imported first thing, before anything heavy

    return asyncio.get_running_loop()
