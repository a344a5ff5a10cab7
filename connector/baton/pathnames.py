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


def shell_shorthand(path: Path) -> str | None:
    """The words that follow `path` in a message when it begins with a shell's shorthand that no shell expanded, and
    the name as written is not there; else None.

    `~`, `~user` and `$VAR` are expanded by a shell in an unquoted word only: `BATON_FILE="~/sync.c1z"`, an env file
    (`docker run --env-file`, systemd's `EnvironmentFile`), a Secret, the settings file and a Helm value hand them over
    as typed. `-` means standard input or output only to a program that reads it so; here it is a file's name. Each was
    "does not exist" (of a file the user could see in their home), or `--file -` wrote the sync to a file named `-`.
    Only when the name as written is not there: a directory that is really named `~` (or a file named `-`) is used."""
    text = str(path)
    first = text.split("/", 1)[0]
    if not first.startswith(("~", "$")) and text != "-":
        return None
    try:
        if os.path.lexists(first):
            return None
    except (OSError, ValueError):  # a name the file system refuses is `name_too_long`'s, or the caller's to say
        return None
    if text == "-":
        return "`-` is no standard input or output here but a name, and nothing here has it: give the path"
    # Not expanded here, not even for the message: a variable may hold a secret (`$BATON_API_KEY`).
    expanded = "" if first.startswith("$") else os.path.expanduser(text)
    instead = f" ({expanded})" if expanded not in ("", text) else ""
    return (
        f"{first} is not expanded here: only a shell expands it, in an unquoted word (a quoted value, an env file, a "
        f"Secret or a settings file give it as typed); give the full path{instead}"
    )
