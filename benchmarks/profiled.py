"""Run the connector under cProfile in every Python thread, counting CPU time, and save the merged profile.

`python -m benchmarks.profiled OUT.prof [connector args]`. Each thread gets its own profiler with a per-thread
CPU clock (waiting in epoll or on a lock costs nothing), so the profile says where CPU goes, not wall time.
The profile is written when the connector returns (SIGTERM ends the daemon cleanly).
"""

from __future__ import annotations

import contextlib
import cProfile
import pstats
import runpy
import sys
import threading
import time
from types import FrameType

_profiles: list[cProfile.Profile] = []


def _profile_this_thread(_frame: FrameType, _event: str, _arg: object) -> None:
    # The first profile event of a new thread replaces this hook with a C-level profiler for the thread.
    profile = cProfile.Profile(time.thread_time)
    _profiles.append(profile)
    profile.enable()


def main() -> int:
    out, sys.argv = sys.argv[1], ["connector", *sys.argv[2:]]
    threading.setprofile(_profile_this_thread)
    main_profile = cProfile.Profile(time.thread_time)
    code: object = 0
    main_profile.enable()
    try:
        runpy.run_module("connector", run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code
    finally:
        main_profile.disable()
        threading.setprofile(None)
        stats = pstats.Stats(main_profile)
        for profile in list(_profiles):
            profile.disable()
            with contextlib.suppress(TypeError):  # pstats refuses a thread that recorded nothing
                stats.add(profile)
        stats.dump_stats(out)
    return code if isinstance(code, int) else 1


if __name__ == "__main__":
    raise SystemExit(main())
