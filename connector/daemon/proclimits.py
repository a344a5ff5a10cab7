"""What the process inherits from whoever started it (a shell's `umask` and `ulimit`, cron, a container runtime, a
pod's security settings): made usable at start where that takes nothing from the operator, and refused at start in one
line where it cannot be, rather than found out by a sync half-way through (a task failing on "unable to open database
file", a process dying of SIGABRT without a word).

- The umask: one that takes the owner's own bits away (`umask 0777`, `0177`, `0377`: a hardened login shell, a cron
  line's `umask 777`) made every directory and file the run creates for itself unusable by itself: the c1z's working
  directory came out mode 000 beside `--file` and was left there, the sync failing with "Permission denied" or
  "SQLITE_CANTOPEN". The owner's bits are given back; the group's and others' stay as masked. The c1z and every
  working file are the owner's only whatever the umask (mkstemp's 0600, mkdtemp's 0700; `tests/independent/procenv`).
- The open-file limit: its soft value is raised to the hard one at start, as every Go program does since Go 1.19 (so
  the Go connector runs with the hard limit too); below `MIN_OPEN_FILES` even then (`MIN_ONE_SHOT_OPEN_FILES` for a
  one-shot run), a run is refused naming it: in the daemon a limit of 32 failed a sync in three as "cannot use the
  working file ... SQLITE_CANTOPEN", 16 failed the start with "METADATA: Too many open files", 12 aborted it inside
  gRPC.
- The address-space limit (`ulimit -v`, RLIMIT_AS) in service mode: gRPC's threads and the allocator's per-thread
  arenas reserve about 1 GiB of address space, little of it used; under 800 MiB syncs failed as "internal error
  (MemoryError)", under 600 MiB the daemon died of SIGABRT at start, writing nothing. A soft limit set on purpose is
  the operator's (not raised); under `MIN_SERVICE_ADDRESS_SPACE` service mode is refused naming it. A one-shot run
  loads no gRPC and synced under 120 MiB: not checked.
- The signal mask: SIGTERM and SIGINT blocked by the parent (a supervisor, a CI agent or a Python program that
  blocked them in the thread that spawned this one: a mask survives exec) kept the daemon running through every
  SIGTERM, so a pod's stop ended in SIGKILL and its in-flight tasks unreported. They are unblocked at start, before
  any thread is made (threads take their creator's mask), as Go's runtime unblocks every signal a program asks to
  be told of (baton-sdk's SIGTERM and SIGINT). An ignored one needs nothing: installing a handler replaces it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal

OWNER = 0o700
MIN_OPEN_FILES = 64
"""Descriptors the daemon needs at least: at its default concurrency, two syncs and six grants in flight, it peaked at
35 (gRPC's, the health server's, each sync's SQLite files, c1z and lock, Datadog's connections); the rest is margin."""
MIN_ONE_SHOT_OPEN_FILES = 32
"""Descriptors a one-shot run needs at least: one sync or one change, no gRPC (review r1404: runs at 40 to 56 that had
worked were refused by the daemon's floor)."""
MIN_SERVICE_ADDRESS_SPACE = 1 << 30
"""Address space (bytes) the daemon needs at least: it served syncs and grants under a limit of 1,000 MiB (its peak,
974 MiB, mostly reserved, not used) and failed syncs under 800 MiB."""

_inherited_umask: int | None = None


def lift_umask() -> int:
    """Give the owner back its own bits of the umask (`umask 0777` → 0077); the group's and others' stay masked. The
    umask is the process's, read only by setting it: set to 0077 for that moment, which masks more, never less.
    Returns the umask it replaced (for a caller of the CLI in its own process to put back)."""
    global _inherited_umask
    inherited = os.umask(0o077)
    os.umask(inherited & ~OWNER)
    _inherited_umask = inherited if inherited & OWNER else None
    return inherited


def umask_warning() -> str | None:
    """The start-up warning for a umask `lift_umask` changed, else None."""
    if _inherited_umask is None:
        return None
    return (
        f"umask {_inherited_umask:04o} takes this process's own permissions away from the files it makes; running "
        f"with {_inherited_umask & ~OWNER:04o} (the c1z and working files are the owner's only either way)"
    )


STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def unblock_stop_signals() -> set[int | signal.Signals] | None:
    """Unblock SIGTERM and SIGINT in this (the main) thread, as the parent may have left them blocked. One sent while
    they were blocked is delivered here, at once: the caller's handlers must be in place. Returns the mask it replaced
    (None where there are no masks)."""
    try:
        return signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    except (OSError, ValueError, AttributeError):  # a platform without signal masks
        return None


def raise_open_file_limit() -> tuple[int, int] | None:
    """The soft open-file limit raised to the hard one, as the Go runtime does for every Go program: a soft limit
    below it is a default no one chose (1,024 on many hosts), not a bound meant for this process. Returns the limits
    it changed, to be put back (`restore_open_file_limit`), or None when it changed none."""
    with contextlib.suppress(OSError, ValueError):  # a platform without it, or a hard limit the kernel refuses
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return soft, hard
    return None


def restore_open_file_limit(limits: tuple[int, int] | None) -> None:
    """The open-file limits `raise_open_file_limit` changed, put back."""
    if limits is not None:
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def _limit(which: int) -> int | None:
    """The soft limit, None when unlimited or unknown."""
    try:
        soft, _ = resource.getrlimit(which)
    except (OSError, ValueError):
        return None
    return None if soft == resource.RLIM_INFINITY else soft


def shortfall(*, service_mode: bool) -> str | None:
    """Why the process's limits are too low for this run, naming the limit and how to raise it; None when they are not."""
    files = _limit(resource.RLIMIT_NOFILE)
    needed = MIN_OPEN_FILES if service_mode else MIN_ONE_SHOT_OPEN_FILES
    if files is not None and files < needed:
        return (
            f"the open-file limit is {files} (RLIMIT_NOFILE: `ulimit -n`, a container runtime's nofile), below the "
            f"{needed} {'service mode' if service_mode else 'a one-shot run'} needs: raise it (`ulimit -n 1024`)"
        )
    space = _limit(resource.RLIMIT_AS)
    if service_mode and space is not None and space < MIN_SERVICE_ADDRESS_SPACE:
        return (
            f"the address-space limit is {space >> 20} MiB (RLIMIT_AS: `ulimit -v`), below the "
            f"{MIN_SERVICE_ADDRESS_SPACE >> 20} MiB service mode needs (gRPC's threads reserve most of it; little of "
            "it is used): raise it (`ulimit -v unlimited`); memory is better bounded by the container's limit"
        )
    return None
