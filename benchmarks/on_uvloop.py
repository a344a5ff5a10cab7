"""Run the connector with uvloop as asyncio's event loop, for the benchmarks that compare loops (issue 12).

`python -m benchmarks.on_uvloop [connector args]`. The connector itself runs on asyncio's own loop: uvloop was
measured and did not earn a runtime dependency (docs/benchmarks.md, "uvloop measured"). This wrapper sets
uvloop's event-loop policy before the connector starts, so `asyncio.run` in connector/daemon/main.py builds a
uvloop loop. uvloop is not a dependency of the project: `.venv/bin/pip install uvloop` to use this.
"""

from __future__ import annotations

import asyncio
import importlib
import runpy
import sys


def use_uvloop() -> None:
    """Make every later `asyncio.run` in this process build a uvloop loop (exit 1, saying so, without uvloop)."""
    try:
        # By name: uvloop is not installed where the project is linted and tested.
        uvloop = importlib.import_module("uvloop")
    except ModuleNotFoundError:
        raise SystemExit(
            "uvloop is not installed (it is no project dependency): .venv/bin/pip install uvloop"
        ) from None
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


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
