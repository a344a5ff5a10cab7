"""The c1z layer's errors. Both are `ConnectorError`s, so every caller reports them as one clear line."""

from __future__ import annotations

import errno
import threading
from pathlib import Path
from typing import overload

from connector.baton.errors import Code, ConnectorError
from connector.baton.printable import printable


class C1ZFormatError(ConnectorError):
    """The file is not a c1z this project can read; the message names the file and what was wrong."""

    code = Code.FAILED_PRECONDITION

    def __init__(self, message: str) -> None:
        # One line, whatever SQLite or a hostile file put into the text, and nothing a terminal would act on: SQLite's
        # "Could not decode to UTF-8 column 'sync_id' with text '...'" quotes the file's bytes, an ESC among them.
        super().__init__(printable(" ".join(message.split())))


class DamagedC1ZError(C1ZFormatError):
    """A c1z (the magic is right) whose body is damaged: truncated, corrupt zstd, a broken database.

    A one-shot sync that finds its `--file` damaged starts over instead of resuming (and says so).
    """


STARTING_OVER = "existing c1z is damaged; starting a new sync instead of resuming"
"""The warning of a sync that found its file damaged (`DamagedC1ZError`), whether on opening it or in its rows."""


class OpeningStopped(Exception):
    """Whoever waited for a c1z being opened stopped waiting (a cancelled sync: SIGTERM): the opening ends at its next
    chunk or SQLite step instead of decompressing and checking the rest of a file of up to 10 GiB, which the exit
    waited for. Never reported: nobody awaits it."""


def check_stop(stop: threading.Event | None, c1z_path: Path) -> None:
    """Raise `OpeningStopped` (naming `c1z_path`) once `stop` is set; the one look every step of an opening makes."""
    if stop is not None and stop.is_set():
        raise OpeningStopped(f"{c1z_path}: no longer awaited")


class DiskFullError(ConnectorError):
    """No space left for the working files or the c1z; retryable, since a later attempt may find room."""

    code = Code.RESOURCE_EXHAUSTED
    retryable = True


class C1ZWriteError(ConnectorError):
    """The c1z cannot be written where it was asked to go (its directory cannot be made, is not writable, ...):
    the message names the file and the cause. Retryable: the place can be fixed."""

    code = Code.FAILED_PRECONDITION
    retryable = True


class C1ZBusyError(ConnectorError):
    """Another sync (another process, or another sync of this one) is writing the same c1z: the message names the
    file. Retryable: the other sync ends."""

    code = Code.ABORTED
    retryable = True


class WorkDirError(ConnectorError):
    """The directory for working files is unusable (missing, not a directory, not writable), or the disk under a
    working file failed (an I/O error, a file-size limit, the directory removed): an operator's setting or the
    machine, so one clear line naming the place and the cause; retryable, since it can be fixed and the task
    rescheduled. Never reported as a damaged c1z: the file's content is not at fault.
    """

    code = Code.FAILED_PRECONDITION
    retryable = True


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC/EDQUOT from the OS, or SQLite's SQLITE_FULL ("database or disk is full")."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL"


def disk_full(where: Path, doing: str, exc: BaseException) -> DiskFullError:
    return DiskFullError(f"disk full: no space left in {where} while {doing} ({exc})")


# SQLite's primary result codes for a failure of the OS or the disk under a file, not of the file's content:
# SQLITE_PERM, SQLITE_READONLY (also a working file whose directory was removed: SQLITE_READONLY_DBMOVED),
# SQLITE_IOERR (EIO, EFBIG past RLIMIT_FSIZE, ...), SQLITE_CANTOPEN, SQLITE_NOLFS. Python gives the extended
# code; the primary one is its low byte.
_SQLITE_IO_CODES = frozenset({3, 8, 10, 14, 22})


@overload
def working_file_failure(path: Path, doing: str, exc: OSError) -> ConnectorError: ...
@overload
def working_file_failure(path: Path, doing: str, exc: BaseException) -> ConnectorError | None: ...
def working_file_failure(path: Path, doing: str, exc: BaseException) -> ConnectorError | None:
    """The clear error for an OS or disk failure on a working file (`path`), or None when `exc` is not one (never
    for an OSError).

    A full disk is a `DiskFullError`; any other OS refusal, or SQLite's report of one, a `WorkDirError` naming the
    file and the cause (SQLite's own text: it does not give the OS error's).
    """
    if is_disk_full(exc):
        return disk_full(path.parent, doing, exc)
    if isinstance(exc, OSError):
        cause = exc.strerror or type(exc).__name__
    else:
        code = getattr(exc, "sqlite_errorcode", None)
        if not isinstance(code, int) or code & 0xFF not in _SQLITE_IO_CODES:
            return None
        cause = f"{exc} ({getattr(exc, 'sqlite_errorname', code)})"
    return WorkDirError(f"cannot use the working file {path} while {doing}: {cause}")
