"""The system's temporary directory, where the working files go when no directory is set: here, apart from
`workfiles` (which loads the logging stack), for `config`, which reports it and loads nothing it does not need."""

from __future__ import annotations

import tempfile
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
