"""Run the connector with uvloop as asyncio's event loop, for the benchmarks that compare loops (issue 12).

`python -m benchmarks.on_uvloop [connector args]`. The connector itself runs on asyncio's own loop: uvloop was
measured and did not earn a runtime dependency (docs/benchmarks.md, "uvloop measured"). This wrapper sets
uvloop's event-loop policy before the connector starts, so `asyncio.run` in connector/daemon/main.py builds a
uvloop loop, and applies two measurement-only shims without which connector/datadog/netio.py fails on uvloop. uvloop is not a dependency of the project: `.venv/bin/pip install uvloop` to use this.
"""

from __future__ import annotations

import asyncio
import importlib
import runpy
import sys
from typing import Any


def use_uvloop() -> None:
    """Make every later `asyncio.run` in this process build a uvloop loop (exit 1, saying so, without uvloop)."""
    try:
        # By name: uvloop is not installed where the project is linted and tested.
        uvloop = importlib.import_module("uvloop")
    except ModuleNotFoundError:
        raise SystemExit(
            "uvloop is not installed (it is no project dependency): .venv/bin/pip install uvloop"
        ) from None
    _without_happy_eyeballs(uvloop)
    _netio_accepts_uvloop_transports()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def _without_happy_eyeballs(uvloop: Any) -> None:
    """Let uvloop run connector/datadog/netio.py, which passes asyncio's `happy_eyeballs_delay` (uvloop has none).

    For measuring only: the benchmarks' fakes listen on one loopback address, so there is no race to run and
    nothing else changes. As shipped, the daemon on uvloop stops at its first Datadog request with a TypeError.
    """
    base = uvloop.Loop.create_connection

    async def create_connection(
        self: object, *args: Any, happy_eyeballs_delay: float | None = None, interleave: int | None = None, **kw: Any
    ) -> Any:
        return await base(self, *args, **kw)

    uvloop.Loop.create_connection = create_connection


def _netio_accepts_uvloop_transports() -> None:
    """For measuring only: netio's protocol asserts an `asyncio.Transport`, which uvloop's transports are not.

    They have every method netio calls (pause/resume reading, write, close, `get_extra_info("socket")`), so the
    measured path is the one the daemon would run if netio dropped the assertion.
    """
    from connector.datadog import netio

    def connection_made(self: Any, transport: Any) -> None:
        self.transport = transport
        self.sock = transport.get_extra_info("socket")

    netio._Protocol.connection_made = connection_made  # type: ignore[method-assign]


def main() -> int:
    use_uvloop()
    sys.argv = ["connector", *sys.argv[1:]]
    code: object = 0
    try:
        runpy.run_module("connector", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code
    return code if isinstance(code, int) else 1


if __name__ == "__main__":
    raise SystemExit(main())
