"""Private working directories for c1z files, locked for as long as the process that made them lives.

A sync keeps an uncompressed SQLite working file (and, in service mode, the c1z it uploads) in the temp dir.
After a kill -9 nothing removes them, and a crash loop would fill the volume (issue 11 §8). So every working
directory is named `baton-c1z-<purpose>-<random>` and holds an exclusive `flock` on itself while in use; the
kernel drops the lock when the process dies, however it dies. `sweep_stale` removes only directories that
match our name pattern, belong to our user and whose lock it can take: a live process's files are never
touched, whatever their age.

A directory is locked under a staging name (`.baton-c1z-new-…`) and only then renamed to its final name, so
a sweeper never sees one of ours unlocked while its owner lives. Everything here blocks: call it from the
store's thread (`C1ZStore`) or another worker thread, never from the event loop.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from connector.baton.c1z.errors import C1ZBusyError, C1ZWriteError, WorkDirError, disk_full, is_disk_full
from connector.baton.c1z.tempdir import NO_SYSTEM_TEMP_DIR, system_temp_dir
from connector.baton.pathnames import lookup_problem, shell_shorthand

log = structlog.get_logger(__name__)

WORKDIR_PREFIX = "baton-c1z-"
_STAGING_PREFIX = ".baton-c1z-new-"
_CREATE_ATTEMPTS = 5


class WorkDir:
    """A private directory locked by this process; `release` removes it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def create(cls, tmp_dir: Path | None, purpose: str) -> WorkDir:
        base = Path(tmp_dir) if tmp_dir is not None else Path(tempfile.gettempdir())
        for _ in range(_CREATE_ATTEMPTS):
            try:
                staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIX, dir=base))
            except OSError as exc:
                if is_disk_full(exc):
                    raise disk_full(base, "creating a working directory", exc) from exc
                reason = exc.strerror or type(exc).__name__
                raise WorkDirError(f"cannot create a working directory in {base}: {reason}") from None
            try:
                fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
            except FileNotFoundError:
                continue  # a sweeper took the unlocked staging directory: make another
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                final = base / f"{WORKDIR_PREFIX}{purpose}-{staging.name.removeprefix(_STAGING_PREFIX)}"
                staging.rename(final)
            except (BlockingIOError, FileNotFoundError):
                os.close(fd)
                continue
            except BaseException as exc:
                os.close(fd)
                shutil.rmtree(staging, ignore_errors=True)
                if isinstance(exc, OSError):
                    # A file system without flock (some NFS and FUSE mounts: ENOLCK, EOPNOTSUPP) or a rename it
                    # refuses: the directory's fault, named, not a bare OSError ("unexpected error").
                    reason = exc.strerror or type(exc).__name__
                    raise WorkDirError(f"cannot lock a working directory in {base}: {reason}") from None
                raise
            return cls(final, fd)
        raise WorkDirError(f"could not create a working directory in {base} (another process keeps taking it)")

    def release(self) -> None:
        """Remove the directory, then drop the lock (in that order: nobody else may take it half-removed)."""
        if self._fd is None:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self._fd)
        self._fd = None


class OutputLock:
    """The right to write one c1z, for a whole sync: `.<name>.lock` beside the file, `flock`ed, removed on release.

    Two syncs into one file (a cron job's one-shot run overlapping the last, one beside the service's periodic sync)
    each saved the file they had opened with their own sync added: the later save replaced the other's, and an
    interrupted one replaced a finished sync with the older one it had opened and its own unfinished one. The file is
    replaced by every save (a new inode), so the lock is a file of its own; the kernel drops it when its holder dies,
    however it dies, and a lock file left by a killed process is taken by the next sync like any other.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def take(cls, c1z_path: Path) -> OutputLock:
        """Lock `c1z_path` (where a link to it points: the save writes there), or `C1ZBusyError` if a sync holds it."""
        target = Path(os.path.realpath(c1z_path))
        path = target.with_name(f".{target.name}.lock")
        for _ in range(_CREATE_ATTEMPTS):
            doing = ""
            try:
                target.parent.mkdir(parents=True, exist_ok=True)  # as the save makes it
                doing = f"cannot make its lock file {path}: "
                # Read-only: flock needs no write access, and a lock file left read-only still serves. O_NONBLOCK: a
                # FIFO under the name must not hang the sync waiting for a writer (it is refused below).
                fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o600)
            except OSError as exc:
                if is_disk_full(exc):
                    raise disk_full(target.parent, f"saving {target}", exc) from exc
                raise C1ZWriteError(f"cannot write {target}: {doing}{exc.strerror or type(exc).__name__}") from None
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise C1ZWriteError(f"cannot write {target}: its lock file {path} is not a regular file")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                opened = os.fstat(fd)
                now = os.stat(path, follow_symlinks=False)
            except BlockingIOError:
                os.close(fd)
                raise C1ZBusyError(
                    f"another sync is writing {target} (it holds {path}); run again when it has ended"
                ) from None
            except FileNotFoundError:
                os.close(fd)
                continue  # its holder removed it as we took it: the lock is a new file now
            except OSError as exc:
                os.close(fd)
                reason = exc.strerror or type(exc).__name__
                raise C1ZWriteError(f"cannot write {target}: cannot lock {path}: {reason}") from None
            if (opened.st_dev, opened.st_ino) == (now.st_dev, now.st_ino):
                return cls(path, fd)
            os.close(fd)  # locked a file its holder had removed: another sync may hold the new one
        raise C1ZBusyError(f"another sync keeps taking the lock of {target} ({path})")

    def release(self) -> None:
        """Remove the lock file, then drop the lock (in that order: who opened it before the removal sees it gone)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def temp_dir_problem(tmp_dir: Path | None) -> str | None:
    """What makes `tmp_dir` a place no sync can make its working files in, or None (None: the system's temp dir).
    Tried as a sync will use it: one that is read-only, not ours to write, or on a file system without locks failed
    only once a sync began. Blocking: run it off the event loop. A full disk is a problem too (the place is right,
    the room is not: its message says so)."""
    if (problem := temp_dir_path_problem(tmp_dir)) is not None or tmp_dir is None:
        return problem
    try:
        WorkDir.create(tmp_dir, "check").release()
    except WorkDirError as exc:
        return str(exc)
    return None


def temp_dir_path_problem(tmp_dir: Path | None) -> str | None:
    """What `temp_dir_problem` finds without making anything in `tmp_dir` (`baton-datadog config` may write nothing),
    in its words, or None. Left out: whether a working directory can be made and locked there (made to know). The
    system's temp dir is looked up as tempfile does (its probe file removed at once), as the run looks it up."""
    if tmp_dir is None:
        # The system's, as tempfile finds it: with none writable (a read-only root and working directory, TMPDIR
        # naming what is not there) the sync failed after the key check as an "unexpected error", exit 1.
        return NO_SYSTEM_TEMP_DIR if system_temp_dir() is None else None
    if (unusable := lookup_problem(tmp_dir)) is not None:
        return f"{tmp_dir}: {unusable}"
    if (shorthand := shell_shorthand(tmp_dir)) is not None:
        return f"{tmp_dir}: {shorthand}"
    if not tmp_dir.is_dir():
        return f"{tmp_dir} does not exist or is not a directory"
    return None


def temp_dir_look_problem(tmp_dir: Path | None) -> str | None:
    """`temp_dir_path_problem`, and whether this user may make anything in `tmp_dir` as far as looking tells, in the
    words `WorkDir.create` fails with there: for `config` only (review r1503: a working-files volume this user cannot
    write, the usual deployment mistake, was fine to it). A run tries `WorkDir.create` itself: a look there would only
    add false refusals (review r1504: where a seccomp filter refuses `faccessat2`, `os.access` says no to any
    directory)."""
    if (problem := temp_dir_path_problem(tmp_dir)) is not None or tmp_dir is None:
        return problem
    with contextlib.suppress(OSError):
        if os.statvfs(tmp_dir).f_flag & os.ST_RDONLY:
            return f"cannot create a working directory in {tmp_dir}: {os.strerror(errno.EROFS)}"
    # Plain `access(2)` (the real ids; no `faccessat2`, which older container seccomp profiles refuse): the process
    # is no setuid program.
    if not os.access(tmp_dir, os.W_OK | os.X_OK):
        return f"cannot create a working directory in {tmp_dir}: {os.strerror(errno.EACCES)}"
    return None


def sweep_stale(tmp_dir: Path | None, *, said: bool = True) -> list[Path]:
    """Remove working directories that dead processes left in `tmp_dir`; returns what was removed. `said`: log what
    was removed (`inspect` does not: its logger is not set up, and structlog's default writes to standard output,
    into the listing it prints)."""
    base = Path(tmp_dir) if tmp_dir is not None else Path(tempfile.gettempdir())
    return _sweep(base, lambda name: name.startswith((WORKDIR_PREFIX, _STAGING_PREFIX)), directory=True, said=said)


_SAVE_MARK, _SAVE_SUFFIX = ".save-", ".tmp"

SAVE_RANDOM_CHARACTERS = 8
"""How many random characters `tempfile.mkstemp` puts between a save's prefix and suffix (a-z, 0-9 and _)."""


def save_temp_affixes(c1z_name: str) -> tuple[str, str]:
    """mkstemp's prefix and suffix for the file a save writes beside the c1z named `c1z_name` and renames over it:
    `.<name>.save-XXXXXXXX.tmp`, hidden and marked as a save's. `sweep_stale_partials` removes what has this shape;
    the plain `<name>.XXXXXXXX.tmp` of mkstemp is a shape a user's own file has too (`sync.c1z.20261205.tmp`, a
    dated copy), and the sweep deleted it."""
    return f".{c1z_name}{_SAVE_MARK}", _SAVE_SUFFIX


def _save_temp_shape(c1z_name: str | None) -> re.Pattern[str]:
    """`save_temp_affixes`'s shape, mkstemp's random characters included, around the name `c1z_name` (None: any)."""
    name = ".+" if c1z_name is None else re.escape(c1z_name)
    random = f"[a-z0-9_]{{{SAVE_RANDOM_CHARACTERS}}}"
    return re.compile(rf"\.{name}{re.escape(_SAVE_MARK)}{random}{re.escape(_SAVE_SUFFIX)}")


SAVE_TEMP_TRIES = 5
"""How many temp files a save makes before it gives up, when other processes' sweeps take each one first."""


class TempLockError(OSError):
    """The lock on a new temp file was refused by its file system (one without locks), not held by anyone."""


def locked_save_temp(c1z_path: Path) -> tuple[int, Path]:
    """A new temp file beside `c1z_path` in the save's shape (`save_temp_affixes`), its lock held: its descriptor and
    path. Between mkstemp and the lock, another process's sweep may find it unlocked: hold it for a moment, or (one
    of our own name, its clock stepped either way) remove it. The save's lock then failed, or it wrote into a file no
    name pointed at ("No such file or directory" at the rename): another one is made instead, as `WorkDir.create`
    does for its staging directories. mkstemp's own failure is raised as it is; a lock refused by the file system is
    `TempLockError`."""
    prefix, suffix = save_temp_affixes(c1z_path.name)
    for _ in range(SAVE_TEMP_TRIES):
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=c1z_path.parent)
        path = Path(name)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BaseException as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()  # ours, whoever else holds it: a sweep holding it would remove it too
            if isinstance(exc, BlockingIOError):
                continue
            if isinstance(exc, OSError):
                raise TempLockError(exc.errno, exc.strerror) from exc
            raise
        if _still_named(path, fd):
            return fd, path
        os.close(fd)  # a sweep removed it before the lock was ours
    raise BlockingIOError(
        errno.EWOULDBLOCK,
        f"each of {SAVE_TEMP_TRIES} temp files made was locked or removed by another process before it could be locked",
    )


def sweep_stale_partials(c1z_path: Path) -> list[Path]:
    """Remove the temp files beside `c1z_path` that an interrupted save left (`save_temp_affixes`; a live writer holds
    a lock on its own). A link is followed as the save follows it (`envelope.compress_atomically` writes beside the
    target): swept beside the link, a killed save's temp file beside the target stayed for good.

    A killed save of another file in the same directory goes too, when its first bytes are the c1z magic (every save
    writes them first): a run names one `--file`, and a cron job's dated names (`sync-$(date +%F).c1z`) or a name
    changed since left one c1z-sized temp file per killed save that no later run removed. The shape alone is not
    enough there (another program's `.<name>.save-XXXXXXXX.tmp`); an empty one is kept (nothing to tell it by).

    Nothing is locked before its first bytes are read: a save locks its temp file right after making it and only
    then writes the magic, so an unlocked file that starts with it is a dead save's. One of our own name without the
    magic (a save killed between making its file and writing the magic, which it flushes at once) is taken only once
    its time is UNMARKED_GRACE_SECONDS away from now.
    Locked at once, a fresh temp file of a live save (of another name, or of this one by a process whose start-up
    sweep runs outside the output lock) was held by the sweep for a moment, or removed: that save's own lock failed
    or its file was gone (its sync lost, or its start-up check refused with "cannot lock files")."""
    c1z_path = Path(os.path.realpath(c1z_path))
    ours = _save_temp_shape(c1z_path.name)
    return _sweep(
        c1z_path.parent,
        lambda name: ours.fullmatch(name) is not None or _ANY_SAVE.fullmatch(name) is not None,
        directory=False,
        worth_a_look=lambda path, fd: (
            _starts_as_a_c1z(fd) or (ours.fullmatch(path.name) is not None and _older_than(fd, UNMARKED_GRACE_SECONDS))
        ),
    )


UNMARKED_GRACE_SECONDS = 60.0
"""How far from now an unlocked temp file of our own name without the magic must be dated to be taken as a dead
save's: a live save locks its file and writes and flushes the magic within microseconds of making it."""


def _older_than(fd: int, seconds: float) -> bool:
    try:
        changed = os.fstat(fd).st_mtime
    except OSError:
        return False
    # Old either way: a file dated ahead by more than the wait was made while the clock was ahead (it was kept until
    # the clock came to its date, maybe never). A live save's file the clock makes look old is taken only before its
    # lock, and the save then makes another (`locked_save_temp`).
    return abs(time.time() - changed) > seconds


_ANY_SAVE = _save_temp_shape(None)


def _starts_as_a_c1z(fd: int) -> bool:
    from connector.baton.c1z.envelope import MAGIC_V1  # here: envelope imports this module

    try:
        return os.pread(fd, len(MAGIC_V1), 0) == MAGIC_V1
    except OSError:
        return False


def _sweep(
    base: Path,
    ours: Callable[[str], bool],
    *,
    directory: bool,
    worth_a_look: Callable[[Path, int], bool] | None = None,
    said: bool = True,
) -> list[Path]:
    try:
        names = [entry.name for entry in os.scandir(base)]
    except OSError:
        return []
    removed = [
        base / name
        for name in names
        if ours(name) and _remove_if_unlocked(base / name, directory=directory, worth_a_look=worth_a_look)
    ]
    if removed and said:
        log.info("removed working files of dead processes", directory=str(base), count=len(removed))
    return removed


def _remove_if_unlocked(
    path: Path, *, directory: bool, worth_a_look: Callable[[Path, int], bool] | None = None
) -> bool:
    """Remove `path` if it is ours, (`worth_a_look`, given the path and a descriptor of it, before any lock is tried)
    what we leave, and unlocked. True only when this call removed it."""
    try:
        info = path.lstat()
    except OSError:
        return False
    wanted = stat.S_ISDIR if directory else stat.S_ISREG
    if not wanted(info.st_mode) or info.st_uid != os.getuid():
        return False  # not ours: a symlink, another user's, another kind of file
    flags = os.O_RDONLY | os.O_NOFOLLOW | (os.O_DIRECTORY if directory else os.O_NONBLOCK)
    try:
        fd = os.open(path, flags)
    except OSError:
        return False
    try:
        if worth_a_look is not None and not worth_a_look(path, fd):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # its owner is alive
        if not _still_named(path, fd):
            # Its owner finished between the open and the lock (a save renamed its temp file onto the c1z and let go
            # of it): the name is gone or another file's, and what was locked is a live file under its new name.
            return False
        if directory:
            shutil.rmtree(path, ignore_errors=True)
            return not os.path.lexists(path)  # counted only when gone: a file in it may refuse (immutable, busy)
        try:
            path.unlink()
        except FileNotFoundError:
            return False  # gone already: another sweeper's, not this call's to count
        except OSError:
            # Kept (immutable, a bind mount, an I/O error): a sweep is housekeeping, and a leftover it cannot remove
            # raised out of every sync's and every start's sweep, stopping them all (review r1610).
            return False
        return True
    finally:
        os.close(fd)


def _still_named(path: Path, fd: int) -> bool:
    """Whether `path` still names the file open as `fd`."""
    try:
        named, opened = path.lstat(), os.fstat(fd)
    except OSError:
        return False
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)
