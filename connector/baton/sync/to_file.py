"""Run a sync into a c1z file: resume what an earlier run left unfinished, save atomically either way."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import os
import re
import threading
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import structlog

from connector.baton.c1z import workfiles
from connector.baton.c1z.errors import STARTING_OVER, C1ZFormatError, DamagedC1ZError, is_disk_full
from connector.baton.connector import ResourceSyncer
from connector.baton.errors import ConnectorError
from connector.baton.ids import quoted_id
from connector.baton.pathnames import lookup_problem, shell_shorthand
from connector.baton.sync.syncer import Syncer, SyncObserver, SyncOptions, SyncResult

if TYPE_CHECKING:
    from connector.baton.c1z.store import C1ZStore

log = structlog.get_logger(__name__)

R = TypeVar("R")


async def sync_to_file(
    syncers: Sequence[ResourceSyncer],
    c1z_path: Path,
    options: SyncOptions | None = None,
    *,
    tmp_dir: Path | None = None,
    observer: SyncObserver | None = None,
    save_on_error: bool = True,
    known_types: Collection[str] = (),
) -> SyncResult:
    """Sync into `c1z_path`. On success the file holds exactly this one finished sync.

    `known_types`: every resource type id the connector's syncs may write. An existing file naming another is another
    connector's (or a newer release's): refused (`C1ZFormatError`) and left as it is, as `output_file_problem` refuses
    it before a run; checked again here because a service's periodic syncs run long after that check. Empty: not
    checked.

    On failure the unfinished sync is saved (unless `save_on_error` is off), so the next run resumes it
    instead of starting over, as the Go SDK does. An existing file that is not a c1z is refused
    (`C1ZFormatError`) rather than overwritten; a damaged one (`DamagedC1ZError`, found on opening it or in the
    rows a resumed sync reads back) is not resumed: a new sync starts in a new file.
    """
    # One sync at a time into a file, from its opening to its save (`workfiles.OutputLock`).
    taking = asyncio.ensure_future(asyncio.to_thread(workfiles.OutputLock.take, c1z_path))
    try:
        lock = await asyncio.shield(taking)
    except asyncio.CancelledError:
        # Cancelled while the thread takes it: released once taken, or this process's next sync into the file (the
        # service's next periodic one) would find it held for good.
        taking.add_done_callback(_release_taken)
        raise
    try:
        return await _sync_locked(syncers, c1z_path, options, tmp_dir, observer, save_on_error, known_types)
    finally:
        await asyncio.shield(asyncio.to_thread(lock.release))


def _release_taken(taking: asyncio.Future[workfiles.OutputLock]) -> None:
    if not taking.cancelled() and taking.exception() is None:
        taking.result().release()


async def _sync_locked(
    syncers: Sequence[ResourceSyncer],
    c1z_path: Path,
    options: SyncOptions | None,
    tmp_dir: Path | None,
    observer: SyncObserver | None,
    save_on_error: bool,
    known_types: Collection[str],
) -> SyncResult:
    # Imported here: the SQLite layer loads when a sync runs, not with the idle daemon (docs/benchmarks.md).
    from connector.baton.c1z.reader import damaged_types_outside
    from connector.baton.c1z.store import C1ZStore

    await sweep_leftovers(tmp_dir, c1z_path)
    store = await C1ZStore.open(c1z_path, tmp_dir)
    # Damage found on opening (the store started empty): a finished sync in the file is kept from a failed run as
    # below, when damage is found as the run resumes.
    keeps_finished = save_on_error and store.set_aside_finished
    try:
        foreign: list[str] = []
        if known_types and store.from_file:
            foreign = await store.types_outside(known_types, _FOREIGN_TYPES_NAMED + 1)
        elif known_types:
            present: bool = await asyncio.to_thread(_present, c1z_path)
            if present:
                # Found damaged on opening (the store started empty), and a restart replaces the file: another
                # connector's file the checks call damaged (SQL of its own, a header SQLite will not write) was
                # replaced by the next periodic sync, although the start-up check refused it.
                foreign = await problem_off_the_loop(
                    functools.partial(damaged_types_outside, c1z_path, known_types, _FOREIGN_TYPES_NAMED + 1, tmp_dir)
                )
        if foreign:
            keeps_finished = False  # nothing of ours was written: the file is left alone, not "kept" from a failure
            raise C1ZFormatError(f"{c1z_path}: {_another_connectors(foreign, known_types)}")
        return await _sync_into(store, syncers, c1z_path, options, observer, save_on_error and not keeps_finished)
    except DamagedC1ZError as exc:
        if not store.from_file:
            _not_saved_over_finished(keeps_finished, c1z_path)
            raise
        # The file's rows, read back as the sync goes (a resumed sync's stored resources), do not decode: as when
        # the damage is found on opening, start over in a new file. Saving it again would fail every later run.
        log.warning(STARTING_OVER, error=str(exc))
        # The damage was in the run being resumed; a finished sync beside it is still what the file is good for (what
        # Go readers and `inspect` show). The new file holds none until the new sync finishes: if it fails, its
        # unfinished run is not saved over that one (it was, and the finished sync was gone).
        keeps_finished = save_on_error and await _holds_a_finished_sync(store)
    except Exception:
        _not_saved_over_finished(keeps_finished, c1z_path)
        raise
    finally:
        await store.close()
    store = await C1ZStore.create(tmp_dir)
    try:
        return await _sync_into(store, syncers, c1z_path, options, observer, save_on_error and not keeps_finished)
    except Exception:
        _not_saved_over_finished(keeps_finished, c1z_path)
        raise
    finally:
        await store.close()


def _present(path: Path) -> bool:
    """Whether a file with content is at `path` (the store started empty: it was found damaged)."""
    from connector.baton.c1z.store import has_content

    return has_content(path)


def _not_saved_over_finished(keeps_finished: bool, c1z_path: Path) -> None:
    if keeps_finished:
        log.warning(
            "the new sync failed; its unfinished run is not saved over the file's finished sync", file=str(c1z_path)
        )


async def _holds_a_finished_sync(store: C1ZStore) -> bool:
    try:
        return any(run.finished for run in await store.sync_runs())
    except Exception:  # the runs cannot be read either: nothing there worth keeping over a resumable run
        return False


async def _sync_into(
    store: C1ZStore,
    syncers: Sequence[ResourceSyncer],
    c1z_path: Path,
    options: SyncOptions | None,
    observer: SyncObserver | None,
    save_on_error: bool,
) -> SyncResult:
    if options is not None and options.targeted_resources:
        # The targeted runs that failed before are never resumed (a targeted run starts afresh): they go now, so
        # a periodic targeted sync failing every interval leaves one failed run in the file, not one per interval.
        # The newest finished one stays until this run finishes.
        await store.drop_other_partials(unfinished_only=True)
    try:
        result = await Syncer(syncers, store, options, observer).run()
    except BaseException as exc:
        damaged = isinstance(exc, DamagedC1ZError) and store.from_file  # `sync_to_file` starts over instead
        if save_on_error and not damaged:
            await _save_unfinished(store, c1z_path, exc)
        raise
    if observer is not None:
        observer.sync_finished()
    # The sync is done: what is left is local and bounded (no request). A cancellation now (SIGINT at the last
    # moment, a drain) waits for the file to be written and then goes on, rather than dropping a finished sync
    # (the file would keep whatever it held before) or leaving the caller unable to say what the file holds.
    saving = asyncio.ensure_future(_keep_and_save(store, result, c1z_path))
    cancelled = False
    while not saving.done():
        try:
            await asyncio.shield(saving)
        except asyncio.CancelledError:
            cancelled = True  # ours, not the save's (nothing cancels it): it goes on
    saving.result()  # the save's own failure, if any, is the error
    if cancelled:
        raise asyncio.CancelledError
    return result


async def _keep_and_save(store: C1ZStore, result: SyncResult, c1z_path: Path) -> None:
    if result.sync_type == "full":
        await store.keep_only(result.sync_id)
    else:
        # A targeted run keeps the full sync it builds on and replaces the previous targeted runs (finished,
        # or failed and saved: a targeted run never resumes one), as Go's keep-limit of two runs would: the
        # service's periodic sync with BATON_SYNC_RESOURCES added one run to --file every interval, without end.
        await store.drop_other_partials(keep=result.sync_id)
    await store.save(c1z_path)


async def _save_unfinished(store: C1ZStore, c1z_path: Path, failure: BaseException) -> None:
    """Save the unfinished sync for the next run to resume. A failure to is logged, not raised: the error that
    stopped the sync (`failure`) is the one to report (the save's, raised over it, hid it: a Datadog refusal reported
    as "cannot write FILE"), and the atomic save left `c1z_path` as it was."""
    try:
        if not await store.sync_runs():
            return
        if isinstance(failure, ConnectorError) and not failure.resumable:
            # Saved with an empty token: a run the next one starts over from (docs/c1z.md, "Resuming"), as resuming
            # it would finish on top of pages the failure says may be short. Not saved at all when that cannot be
            # written (the save raises the write's failure first): the run in the file before this one would be
            # resumed instead.
            await store.write("")
        await store.save(c1z_path, vacuum=False)
    except Exception as exc:
        log.error(
            "the unfinished sync could not be saved; the file is left as it was",
            file=str(c1z_path),
            error=str(exc),
            error_type=type(exc).__name__,
        )


async def sweep_leftovers(tmp_dir: Path | None, c1z_path: Path | None) -> None:
    """Remove the working files that killed processes left (issue 11 §8), off the event loop: their working
    directories in `tmp_dir` (`workfiles.sweep_stale`) and an interrupted save's temp files beside `c1z_path`."""

    def sweep() -> None:
        workfiles.sweep_stale(tmp_dir)
        if c1z_path is not None:
            workfiles.sweep_stale_partials(c1z_path)

    await asyncio.to_thread(sweep)


MOUNTINFO = Path("/proc/self/mountinfo")
_OCTAL_ESCAPE = re.compile(rb"\\([0-7]{3})")


def output_file_problem(
    path: Path, tmp_dir: Path | None, resource_types: Collection[str] = (), stop: threading.Event | None = None
) -> str | None:
    """What makes `path` a c1z a sync could not be saved to (or would clobber), as the words that follow the path in
    a message (": the directory ... does not exist", " is a directory; ..."), or None. Found before any upstream
    request: each of these failed only when the finished sync was saved, after the whole sync (in service mode, after
    every periodic sync). The temp dir is `temp_dir_problem`'s. Blocking (it may open an existing c1z): run it off the
    event loop.

    `resource_types`: every resource type id the connector's syncs may write (not only this run's). An existing c1z
    naming another type is another connector's (`sync.c1z` is every baton connector's default name): refused, not
    replaced by this connector's sync. Empty: not checked. `stop`: see `problem_off_the_loop`."""
    path, problem = _output_path(path)
    if problem is not None:
        return problem
    beside = _saving_beside_problem(path)
    if beside is not None:
        return f": {beside}"
    if (existing := _existing_file_problem(path)) is not None:
        return existing
    if not path.exists() or path.stat().st_size == 0:
        return None  # none yet, or an empty file: a fresh start (as the store treats it)
    from connector.baton.c1z.reader import C1ZReader, damaged_types_outside  # SQLite only when a file is there
    from connector.baton.c1z.schema import stop_when

    try:
        reader = C1ZReader(path, tmp_dir, stop)
    except DamagedC1ZError:
        # A c1z with a broken body: the store starts a new sync in its place and warns (not refused), unless what can
        # still be read of it names another connector's types (a restart would replace that connector's sync).
        foreign = (
            damaged_types_outside(path, resource_types, _FOREIGN_TYPES_NAMED + 1, tmp_dir, stop)
            if resource_types
            else []
        )
        return f": {_another_connectors(foreign, resource_types)}" if foreign else None
    except C1ZFormatError as exc:
        return (
            f": the existing file is not a readable c1z ({exc}); "
            "move it away or name another file — it is never overwritten blindly"
        )
    with reader:
        stop_when(reader.connection, stop)  # a scan of every resource row: stopped too, as the opening is
        try:
            foreign = reader.resource_types_outside(resource_types, _FOREIGN_TYPES_NAMED + 1) if resource_types else []
        except C1ZFormatError:
            return None  # tables it cannot read: damage, which the store handles as above
    if not foreign:
        return None
    return f": {_another_connectors(foreign, resource_types)}"


def _another_connectors(foreign: Sequence[str], resource_types: Collection[str]) -> str:
    """The words refusing a file that names the resource types `foreign`, outside `resource_types`."""
    named = ", ".join(quoted_id(type_id) for type_id in foreign[:_FOREIGN_TYPES_NAMED])
    more = " and more" if len(foreign) > _FOREIGN_TYPES_NAMED else ""
    # Replacing it lost that connector's whole sync without a word. A newer release of this connector that added a
    # type writes such a file too: after a rollback the file is refused as well, and the words say so.
    return (
        f"the existing file holds another connector's sync, or a newer release's of this one (resource types "
        f"{named}{more}; this connector writes {', '.join(sorted(resource_types))}); move it away or name another "
        "file — it is never overwritten blindly"
    )


def output_path_problem(path: Path) -> str | None:
    """What `output_file_problem` finds by looking only (stat, access: no file made, none opened), in its words, or
    None: `baton-datadog config` checks `--file` with it, as it may write nothing. Left out: whether the directory can
    hold the save's temp file (made and removed to know) and whether an existing c1z is another connector's (it is
    unpacked to know)."""
    path, problem = _output_path(path)
    if problem is not None:
        return problem
    if _save_name_too_long(path):
        # Only here: a run makes the save's temp file to know (`_saving_beside_problem`), in the same words, and a file
        # system that measures names otherwise than in bytes (NTFS's UTF-16 units) is not refused by a guess.
        return f": {_name_too_long(path, os.strerror(errno.ENAMETOOLONG))}"
    return _existing_file_problem(path)


def _output_path(path: Path) -> tuple[Path, str | None]:
    """The path the save writes (where a link at `path` points), and what makes it no place for a c1z that looking
    tells (None: nothing)."""
    if (unusable := lookup_problem(path)) is not None:
        return path, f": {unusable}"
    if (shorthand := shell_shorthand(path)) is not None:
        return path, f": {shorthand}"
    if path.is_symlink():
        # The save writes where the link points (compress_atomically): check that place.
        try:
            path = Path(os.path.realpath(path, strict=True))
        except FileNotFoundError:
            path = Path(os.path.realpath(path))
        except OSError as exc:
            return path, f": a symbolic link that cannot be followed ({exc.strerror})"
    if path.is_dir():
        return path, f" is a directory; name a file in it (e.g. {path / 'sync.c1z'})"
    parent = path.parent
    if not parent.is_dir():
        return path, f": the directory {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return path, f": the directory {parent} is not writable"
    return path, None


def _save_name_too_long(path: Path) -> bool:
    """Whether the save's temp file beside `path` would have a name longer than its directory's file system takes
    (`PC_NAME_MAX`), as far as the file system says without a file made: a legal name of 237 bytes or more is refused
    only there, and `config` (which makes nothing) said nothing of it (review r1503)."""
    prefix, suffix = workfiles.save_temp_affixes(path.name)
    try:
        longest = os.pathconf(path.parent, "PC_NAME_MAX")
    except (OSError, ValueError):
        return False  # not said: the save finds out, in the same words (`_why_not_beside`)
    # -1 or 0: a file system that states no limit (some FUSE ones); every name would have been refused.
    return longest > 0 and len(os.fsencode(prefix + suffix)) + workfiles.SAVE_RANDOM_CHARACTERS > longest


def _name_too_long(path: Path, reason: str) -> str:
    prefix, suffix = workfiles.save_temp_affixes(path.name)
    random = "X" * workfiles.SAVE_RANDOM_CHARACTERS
    return (
        f"the name is too long: the save writes {prefix}{random}{suffix} beside it, which this file "
        f"system refuses ({reason}); use a shorter name"
    )


def _existing_file_problem(path: Path) -> str | None:
    """What makes the file already at `path` one the save cannot replace, that looking tells; None when there is none."""
    if not path.exists():
        return None
    if not path.is_file():
        # A device or a FIFO (`--file /dev/null`): the atomic save would replace it with a regular file.
        return " is not a regular file"
    if _is_mount_point(path):
        return (
            " is a mount point (a file mounted on its own, as `docker run -v ./sync.c1z:/data/sync.c1z` mounts it): "
            "the save renames a new file over it, which a mount point refuses; mount its directory instead"
        )
    if not os.access(path, os.R_OK | os.W_OK):
        return ": the existing file is not readable and writable"
    return None


async def problem_off_the_loop(check: Callable[[threading.Event], R]) -> R:
    """`check(stop)` (`output_file_problem` or a caller's check around it) on a worker thread. Cancelled (SIGTERM at
    start-up), `stop` is set, so the reading of an existing c1z ends at its next chunk or SQLite step: the exit waited
    for the whole of a file of up to 10 GiB to be unpacked and checked."""
    stop = threading.Event()
    try:
        return await asyncio.to_thread(check, stop)
    except asyncio.CancelledError:
        stop.set()
        raise


_FOREIGN_TYPES_NAMED = 5
"""The most foreign resource types a refusal of another connector's file quotes."""


def _saving_beside_problem(path: Path) -> str | None:
    """Make (and remove) the temp file the save makes beside `path`, with its lock: os.access answers for root as if
    any directory were writable (/proc, an NFS export that squashes root) and knows nothing of locks. The name has the
    save's shape: if this process dies before removing it, the next start sweeps it."""
    try:
        fd, made = workfiles.locked_save_temp(path)
    except workfiles.TempLockError as exc:
        return f"the directory {path.parent} cannot lock files ({exc.strerror})"
    except BlockingIOError as exc:
        return f"the directory {path.parent} cannot be saved in now ({exc.strerror})"
    except OSError as exc:
        return _why_not_beside(path, exc)
    os.close(fd)
    with contextlib.suppress(OSError):
        made.unlink()
    return None


def _is_mount_point(path: Path) -> bool:
    """Whether `path` is a mount point of its own (Linux: /proc/self/mountinfo; elsewhere, False). A file mounted
    alone passed every check, and the save's rename over it failed with EBUSY: its device is its directory's when
    both come from one file system, so only the mount table tells."""
    try:
        table = MOUNTINFO.read_bytes()
    except OSError:
        return False
    target = os.fsencode(os.path.realpath(path))
    for line in table.splitlines():
        fields = line.split(b" ")
        # Field 5 is the mount point, with space, tab, newline and backslash written as octal escapes (\040).
        if len(fields) > 4 and _unescaped(fields[4]) == target:
            return True
    return False


def _unescaped(field: bytes) -> bytes:
    return _OCTAL_ESCAPE.sub(lambda m: bytes([int(m[1], 8)]), field)


def _removed(directory: Path) -> bool:
    """Whether `directory` is one removed while still open or stood in: it answers `stat` with no link left."""
    try:
        return os.stat(directory).st_nlink == 0
    except OSError:
        return False


def _why_not_beside(path: Path, exc: OSError) -> str:
    """Why the save's temp file cannot be made beside `path`: "not writable" only where the directory is to blame. A
    legal name of 237 bytes or more (the temp name adds 19, past the usual 255-byte limit) was "the directory . is not
    writable (File name too long)", and a full disk "not writable (No space left on device)"."""
    if exc.errno == errno.ENAMETOOLONG:
        return _name_too_long(path, exc.strerror or os.strerror(errno.ENAMETOOLONG))
    if is_disk_full(exc):
        return f"no space left in {path.parent} ({exc.strerror})"
    if exc.errno == errno.ENOENT and _removed(path.parent):
        # The directory was found, then nothing could be made in it: it was removed while this process stood in it (a
        # working directory deleted and made again by another shell: `rm -rf out && mkdir out`). "Not writable (No
        # such file or directory)" sent the operator to its permissions. (/proc answers ENOENT too, and is there.)
        where = "the working directory" if str(path.parent) == "." else f"the directory {path.parent}"
        return f"{where} was removed ({exc.strerror}); if it was made again, cd into it again or give the full path"
    return f"the directory {path.parent} is not writable ({exc.strerror})"
