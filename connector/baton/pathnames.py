"""A path given by an operator, weighed before it is used: is its name one the file system takes at all?

`Path.exists()`, `is_dir()`, `is_file()` and `is_symlink()` answer False for a path that is not there, but raise for
a name the file system refuses outright: a component over 255 bytes or a path over 4,096 (ENAMETOOLONG). Such an
OSError ended the run as "<path>: File name too long", exit 1, naming no setting or variable.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


def name_too_long(path: Path) -> str | None:
    """The words that follow `path` in a message when the file system refuses its name outright, else None."""
    try:
        os.lstat(path)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return f"the name is too long for the file system ({exc.strerror}); use a shorter one"
    return None
