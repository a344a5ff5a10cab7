"""A path given by an operator, weighed before it is used: will the file system look its name up at all?

`Path.exists()`, `is_dir()`, `is_file()` and `is_symlink()` answer False for a path that is not there, but raise for
any other refusal to look it up: a name the file system refuses outright (a component over 255 bytes or a path over
4,096: ENAMETOOLONG), a directory on the way this process may not search (EACCES: a volume mounted for another user
than the image's 65532), an I/O error. Such an OSError ended the run as "<path>: File name too long", exit 1, or as
"unexpected error: PermissionError", naming no setting or variable.
"""

from __future__ import annotations

import errno
import os
import pwd
import re
import stat
from collections.abc import Mapping
from pathlib import Path

# Not there (or a file where a directory is expected on the way): an answer, not a refusal. The caller says what a
# missing path means for it.
_NOT_THERE = frozenset({errno.ENOENT, errno.ENOTDIR})


def lookup_problem(path: Path) -> str | None:
    """The words that follow `path` in a message when the file system will not look it up, or where a link at it
    points, else None (also for a path that is not there, or a link to nothing)."""
    if (unnamable := unnamable_path(str(path))) is not None:
        return unnamable
    try:
        link = stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError as exc:
        return _os_refusal(exc)
    if link:
        try:
            os.stat(path)
        except OSError as exc:
            if exc.errno not in _NOT_THERE:
                return f"a symbolic link that cannot be followed ({exc.strerror or type(exc).__name__})"
    return None


def unnamable_path(text: str) -> str | None:
    """The words that follow a path in a message when no file can have its name (a NUL; a lone surrogate, as a YAML or
    JSON `\\ud800` escape gives, which no bytes stand for), else None. `os` raised a ValueError (a
    UnicodeEncodeError) for it, not an OSError: "unexpected error: UnicodeEncodeError", exit 1, naming nothing."""
    if "\0" in text:
        return "holds a NUL character, which no file name can: remove it"
    try:
        os.fsencode(text)
    except UnicodeEncodeError as exc:
        return (
            f"holds U+{ord(text[exc.start]):04X}, a lone surrogate no file name can hold (a \\u escape in the "
            "settings file?): give the name's own characters"
        )
    return None


def _os_refusal(exc: OSError) -> str | None:
    """The words for the OS's refusal `exc` to look a path up (`lookup_problem`), or None when it says the path is not
    there."""
    if exc.errno in _NOT_THERE:
        return None
    if exc.errno == errno.ENAMETOOLONG:
        return f"the name is too long for the file system ({exc.strerror}); use a shorter one"
    if exc.errno == errno.EACCES:
        return f"cannot be looked up: a directory on its way may not be searched by this user ({exc.strerror})"
    return f"cannot be looked up ({exc.strerror or type(exc).__name__})"


def shell_shorthand(path: Path, environ: Mapping[str, str] | None = None) -> str | None:
    """The words that follow `path` in a message when it begins with a shell's shorthand that no shell expanded, and
    the name as written is not there; else None.

    `~`, `~user` and `$VAR` are expanded by a shell in an unquoted word only: `BATON_FILE="~/sync.c1z"`, an env file
    (`docker run --env-file`, systemd's `EnvironmentFile`), a Secret, the settings file and a Helm value hand them over
    as typed. `-` means standard input or output only to a program that reads it so; here it is a file's name. Each was
    "does not exist" (of a file the user could see in their home), or `--file -` wrote the sync to a file named `-`.
    Only when the name as written is not there: a directory that is really named `~` (or a file named `-`) is used.

    Only what a shell would have expanded: bash leaves `~old.c1z` as typed when there is no user `old.c1z`, and
    `'$backup.c1z'` is quoted on purpose to get a `$` (Go's connector writes that file). So `~user` is named only when
    the user exists, and `$NAME` (`${NAME}`) only when NAME is set in `environ` (the process's environment unless
    given): a Kubernetes `env` or an env file that passed `$HOME/x` through names a variable that is set there."""
    text = str(path)
    first = text.split("/", 1)[0]
    if not first.startswith(("~", "$")) and text != "-":
        return None
    try:
        if os.path.lexists(first):
            return None
    except (OSError, ValueError):  # a name the file system refuses is `lookup_problem`'s, or the caller's to say
        return None
    if text == "-":
        return "`-` is no standard input or output here but a name, and nothing here has it: give the path"
    if first.startswith("$"):
        variable = _VARIABLE.match(first)
        if variable is None or variable.group(1) not in (os.environ if environ is None else environ):
            return None
        # Not expanded here, not even for the message: a variable may hold a secret (`$BATON_API_KEY`).
        return f"{first} is not expanded here: {_ONLY_A_SHELL}; give the full path"
    if first != "~" and not _user_exists(first[1:]):
        return None
    try:
        expanded = os.path.expanduser(text)
    except (OSError, ValueError):
        expanded = text
    instead = f" ({expanded})" if expanded != text else ""
    return f"{first} is not expanded here: {_ONLY_A_SHELL}; give the full path{instead}"


_ONLY_A_SHELL = (
    "only a shell expands it, in an unquoted word (a quoted value, an env file, a Secret or a settings file give it as "
    "typed)"
)

# A shell's variable at the start of a word: `$NAME` or `${NAME...`; a name is letters, digits and `_`, not first a
# digit (`$1`, `$$` are a shell's own parameters, never in an environment).
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def _user_exists(name: str) -> bool:
    """Whether `~name` names a user a shell would have expanded it for."""
    try:
        pwd.getpwnam(name)
    except (KeyError, ValueError):  # no such user; a NUL or a lone surrogate no user's name holds
        return False
    return True
