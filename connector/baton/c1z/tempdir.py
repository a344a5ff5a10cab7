"""The system's temporary directory, where the working files go when no directory is set: here, apart from
`workfiles` (which loads the logging stack), for `config`, which reports it and loads nothing it does not need."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

NO_SYSTEM_TEMP_DIR = (
    "not set, and the system has no temporary directory this process can write (TMPDIR, /tmp, /var/tmp, /usr/tmp, "
    "the working directory were tried): give one that is"
)


def system_temp_dir() -> Path | None:
    """The directory the working files go to when none is set, as `tempfile` picks it (TMPDIR first, then the
    platform's), found without writing anything: `tempfile.gettempdir()` writes and removes a probe file in each
    directory it tries, and raises when none will do (`config`, which only reports, did both). The one `tempfile`
    already chose, else the first candidate that is a directory this process may write in; None when none is."""
    if tempfile.tempdir is not None:
        return Path(tempfile.tempdir)
    candidates: Callable[[], list[str]] = tempfile._candidate_tempdir_list  # type: ignore[attr-defined]
    for candidate in candidates():
        if os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return Path(os.path.abspath(candidate))
    return None
