"""The system's temporary directory, where the working files go when no directory is set: here, apart from
`workfiles` (which loads the logging stack), for `config`, which reports it and loads nothing it does not need."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

NO_SYSTEM_TEMP_DIR = (
    "not set, and the system has no temporary directory this process can write (TMPDIR, /tmp, /var/tmp, /usr/tmp, "
    "the working directory were tried): give one that is"
)


def system_temp_dir() -> Path | None:
    """The directory the working files go to when none is set, found as the run finds it (`tempfile.gettempdir()`:
    TMPDIR first, then the platform's, each tried by writing and removing a probe file); None when none will do.
    Judged any other way (`os.access`), a directory the run would skip (a full disk, no inodes left) was reported as
    the one it uses."""
    try:
        return Path(tempfile.gettempdir())
    except FileNotFoundError:  # tempfile's word for "no candidate could be written"
        return None


_VARIABLES = ("TMPDIR", "TEMP", "TMP")
"""The variables tempfile reads, in its order, before the platform's directories (/tmp, /var/tmp, /usr/tmp) and last
the working directory."""
_PLATFORM = ("/tmp", "/var/tmp", "/usr/tmp")  # noqa: S108  # tempfile's own candidates, only compared


def passed_over(environ: Mapping[str, str]) -> str | None:
    """Why the system's temporary directory is not the one the environment names: a TMPDIR naming a directory that is
    not there or this process cannot write (a typo, a volume not mounted) was passed over for /tmp without a word
    (a small tmpfs, or the container's own layer, filled by a sync meant for the volume), and with no platform
    directory writable either (a read-only root) the working files went to the working directory. Go's `os.TempDir`
    takes TMPDIR as it is. None when the one named is used, or none is named and a platform one is."""
    chosen = system_temp_dir()
    if chosen is None:
        return None  # refused where a sync needs it (`workfiles.temp_dir_problem`)
    named = next(((name, value) for name in _VARIABLES if (value := environ.get(name, ""))), None)
    if named is not None:
        name, value = named
        if os.path.abspath(value) == os.path.abspath(chosen):  # `tempfile` keeps `.` as it is, not made absolute
            return None
        return (
            f"environment {name} names {value}, which is not a directory this process can write; the working files go "
            f"to {chosen} instead (fix {name}, or give BATON_C1Z_TEMP_DIR)"
        )
    if str(chosen) in _PLATFORM:
        return None
    return (
        f"no temporary directory this process can write ({', '.join(_PLATFORM)}); the working files go to the "
        f"working directory {chosen} (give BATON_C1Z_TEMP_DIR)"
    )
