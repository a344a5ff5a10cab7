"""Guards the class "an OS refusal to look a path up, other than not-found, escaping as an OSError": pathlib's
`exists()`, `is_dir()`, `is_file()` and `is_symlink()` answer False only for a path that is not there (and its kin),
and raise for the rest. The image runs as 65532: a `--file` or `--c1z-temp-dir` under a volume mounted for another
user (a directory on the way it may not search, EACCES) ended the start-up check as "unexpected error:
PermissionError", exit 1, naming no setting; a save whose directory became unsearchable during the sync reported the
check of the file it would have replaced (a PermissionError) instead of its own failure. Only ENAMETOOLONG was
weighed (`connector/baton/pathnames.py`, the one owner): now every refusal is, for every operator path.

The tests run as root, whom no directory's mode stops: the kernel's answer to 65532 is given by `os.stat`/`os.lstat`
(and `os.open`) refusing what lies under one directory, as they do for a user without search permission on it."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from connector.baton.c1z import envelope
from connector.baton.c1z.errors import C1ZFormatError, C1ZWriteError
from connector.baton.c1z.store import C1ZStore
from connector.baton.c1z.workfiles import temp_dir_problem
from connector.baton.netenv import environment_problems
from connector.baton.sync.to_file import output_file_problem
from connector.daemon.oneshot import check_output_file
from connector.daemon.settings import SettingsError

REFUSED = "cannot be looked up: a directory on its way may not be searched by this user (Permission denied)"


@pytest.fixture
def locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory this process may not search: looking up anything under it is EACCES."""
    directory = tmp_path / "locked"
    directory.mkdir()
    inside = os.fsencode(directory) + b"/"

    def refusing(real: Callable[..., Any]) -> Callable[..., Any]:
        def call(path: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(path, str | bytes | os.PathLike) and os.fsencode(path).startswith(inside):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
            return real(path, *args, **kwargs)

        return call

    for name in ("stat", "lstat", "open"):
        monkeypatch.setattr(os, name, refusing(getattr(os, name)))
    return directory


def test_an_output_file_under_it_is_a_problem_naming_the_refusal(locked: Path) -> None:
    assert output_file_problem(locked / "sync.c1z", None) == f": {REFUSED}"


def test_the_one_shot_check_names_the_setting(locked: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        check_output_file(locked / "sync.c1z", None)
    assert str(caught.value) == f"setting --file (BATON_FILE): {locked / 'sync.c1z'}: {REFUSED}"


def test_a_link_pointing_under_it_is_a_link_that_cannot_be_followed(locked: Path, tmp_path: Path) -> None:
    link = tmp_path / "sync.c1z"
    link.symlink_to(locked / "sync.c1z")
    assert output_file_problem(link, None) == ": a symbolic link that cannot be followed (Permission denied)"


def test_a_temp_dir_under_it_is_a_problem_naming_the_refusal(locked: Path) -> None:
    assert temp_dir_problem(locked / "tmp") == f"{locked / 'tmp'}: {REFUSED}"


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH", "SSL_CERT_DIR"])
def test_a_tls_variable_naming_a_path_under_it_is_named(locked: Path, variable: str) -> None:
    path = locked / "ca"
    assert environment_problems({variable: str(path)}) == [f"environment {variable}: {path}: {REFUSED}"]


async def test_a_store_opening_a_file_under_it_refuses_it_as_the_file_it_cannot_look_at(locked: Path) -> None:
    # The service's periodic sync opens its --file long after the start-up check: the directory may have changed.
    with pytest.raises(C1ZFormatError) as caught:
        await C1ZStore.open(locked / "sync.c1z", locked.parent)
    assert str(caught.value) == f"{locked / 'sync.c1z'}: cannot open: Permission denied"


async def test_a_save_into_it_is_a_write_error_naming_the_file(locked: Path) -> None:
    # The sync ran while the directory could be written; it cannot be by the time the file is saved.
    store = await C1ZStore.create(locked.parent)
    try:
        await store.start_sync()
        with pytest.raises(C1ZWriteError) as caught:
            await store.save(locked / "sync.c1z")
    finally:
        await store.close()
    assert str(caught.value) == f"cannot write {locked / 'sync.c1z'}: Permission denied"
    assert envelope._kept(locked / "sync.c1z") == ""
