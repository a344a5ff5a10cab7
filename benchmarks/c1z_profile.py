"""Profile of the c1z_write benchmark: the event-loop thread and the store thread, each by its own CPU clock.

`python -m benchmarks.c1z_profile` prints the benchmark's JSON line, then the top functions of each thread
(cProfile sees only the thread it runs in, so the store thread's jobs are profiled by wrapping them).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import logging
import pstats
import time
from collections.abc import Callable
from typing import Any

import structlog

from benchmarks import c1z_write
from connector.baton.c1z import store

TOP = 15


def main() -> None:
    on_thread = cProfile.Profile(time.thread_time)
    guarded = store._guarded

    def profiled(db: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        on_thread.enable()
        try:
            return guarded(db, fn, *args, **kwargs)
        finally:
            on_thread.disable()

    store._guarded = profiled
    on_loop = cProfile.Profile(time.thread_time)
    on_loop.enable()
    result = asyncio.run(c1z_write.main())
    on_loop.disable()
    print(result)
    for name, profile in (("event-loop thread", on_loop), ("store thread", on_thread)):
        text = io.StringIO()
        pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(TOP)
        print(f"== {name}")
        print("\n".join(line for line in text.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    main()
