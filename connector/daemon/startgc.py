"""The cyclic garbage collector, paused while the process starts.

A start imports ~670 modules and builds the settings: ~95,000 objects the collector tracks, nearly all of which
live as long as the process. The collector ran ~140 times over that growing heap before the daemon was ready
(128 young, 11 middle and one or two full collections), about 15 % of its CPU from exec to ready, to free a few
hundred cycles (docs/benchmarks.md, "Start-to-ready (helper perf36)"). So `baton-datadog` pauses it from its
first line until the start is over, and then turns it back on: the first collection frees what the start left.

When "over" is: a command other than the connector's run (`inspect`, `config`, ...) and a one-shot run resume at
once, before their work; the service resumes a moment after it is first ready (`resume_after_ready`, so that the
collection runs on an idle daemon, not between Hello and the first answer of `/readyz`), and in any case
`MAX_PAUSE_SECONDS` after its loop starts (`bound_pause`): a start that waits (ConductorOne unreachable, Hello
retried for minutes) never runs long without the collector. The CLI resumes it on every way out, too.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

MAX_PAUSE_SECONDS = 10.0
"""Longest the service runs paused, from its loop's start: a start takes well under a second."""
SETTLE_SECONDS = 1.0
"""How long after the first ready the collector resumes."""

_paused = False


def pause() -> None:
    """Pause the collector, unless something else already turned it off (then `resume` leaves it off too)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Turn the collector back on if `pause` turned it off; idempotent."""
    global _paused
    if _paused:
        _paused = False
        gc.enable()


def paused() -> bool:
    return _paused


def bound_pause() -> None:
    """Resume within `MAX_PAUSE_SECONDS` whatever the start waits for (call it from the running loop)."""
    if _paused:
        _loop().call_later(MAX_PAUSE_SECONDS, resume)


def resume_after_ready() -> None:
    """The service is ready: resume `SETTLE_SECONDS` later (call it from the running loop)."""
    if _paused:
        _loop().call_later(SETTLE_SECONDS, resume)


def _loop() -> asyncio.AbstractEventLoop:
    import asyncio  # here: this module is imported first thing, before anything heavy

    return asyncio.get_running_loop()
