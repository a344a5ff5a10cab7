"""The c1z layer's errors. Both are `ConnectorError`s, so every caller reports them as one clear line."""

from __future__ import annotations

import errno
from pathlib import Path

from connector.baton.errors import Code, ConnectorError


class C1ZFormatError(ConnectorError):
    """The file is not a c1z this project can read; the message names the file and what was wrong."""

    code = Code.FAILED_PRECONDITION

    def __init__(self, message: str) -> None:
        # One line, whatever SQLite or a hostile file put into the text.
        super().__init__(" ".join(message.split()))


class DamagedC1ZError(C1ZFormatError):
    """A c1z (the magic is right) whose body is damaged: truncated, corrupt zstd, a broken database.

    A one-shot sync that finds its `--file` damaged starts over instead of resuming (and says so).
    """


class DiskFullError(ConnectorError):
    """No space left for the working files or the c1z; retryable, since a later attempt may find room."""

    code = Code.RESOURCE_EXHAUSTED
    retryable = True


class C1ZWriteError(ConnectorError):
    """The c1z cannot be written where it was asked to go (its directory cannot be made, is not writable, ...):
    the message names the file and the cause. Retryable: the place can be fixed."""

    code = Code.FAILED_PRECONDITION
    retryable = True


class WorkDirError(ConnectorError):
    """The directory for working files is unusable (missing, not a directory, not writable): an operator's
    setting, so one clear line naming it; retryable, since the directory can be fixed and the task rescheduled.
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
