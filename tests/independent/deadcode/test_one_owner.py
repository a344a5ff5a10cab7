"""Concepts with one owner, checked against what the owner stands for: a copy elsewhere (the save temp file's random
part, counted in `sync.to_file` and spelled again in two patterns of `c1z.workfiles`) drifts from it unseen."""

from __future__ import annotations

import os
from pathlib import Path

from connector.baton.c1z import workfiles


def test_the_save_temp_shape_is_the_shape_of_the_file_a_save_makes(tmp_path: Path) -> None:
    """`SAVE_RANDOM_CHARACTERS` and the sweep's patterns describe the temp file mkstemp really makes for a save."""
    c1z = tmp_path / "sync.c1z"
    fd, made = workfiles.locked_save_temp(c1z)
    os.close(fd)
    prefix, suffix = workfiles.save_temp_affixes(c1z.name)
    assert len(made.name) == len(prefix) + workfiles.SAVE_RANDOM_CHARACTERS + len(suffix)
    assert workfiles._save_temp_shape(c1z.name).fullmatch(made.name)
    assert workfiles._save_temp_shape(None).fullmatch(made.name)
    assert not workfiles._save_temp_shape("other.c1z").fullmatch(made.name)
    # A user's dated copy in mkstemp's plain shape is not a save's.
    assert not workfiles._save_temp_shape(None).fullmatch("sync.c1z.20261205.tmp")
