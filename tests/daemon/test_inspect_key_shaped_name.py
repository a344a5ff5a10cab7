"""`inspect` names the file in its header, its JSON and every failure line; a file name may hold a key (a key pasted
as the file argument, a directory named after one). inspect knows no key for the log redactor to look for, so the
key's shape is not shown there, as a setting's value holding one is not (connector.datadog.keyshape)."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from connector.baton.sync.to_file import sync_to_file
from connector.daemon import inspect
from connector.datadog.keyshape import KEY_SHAPE_HIDDEN
from tests.baton.fake_connector import Faults, Org, syncers
from tests.baton.test_sync_engine import options
from tests.independent.c1z.hostile import run_inspect

API_KEY_SHAPE = "0123456789abcdef0123456789abcdef"
APP_KEY_SHAPE = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def keyed_dir(tmp_path: Path) -> Path:
    where = tmp_path / f"dd-{API_KEY_SHAPE}"
    where.mkdir()
    return where


async def test_the_header_and_the_json_do_not_show_a_key_in_the_file_name(keyed_dir: Path) -> None:
    path = keyed_dir / f"{APP_KEY_SHAPE}.c1z"
    await sync_to_file(syncers(Org(users=3, groups=1), Faults()), path, options())
    code, out, err = run_inspect(path)
    assert (code, err) == (0, "")
    assert json.loads(out)["file"] == str(keyed_dir.parent / f"dd-{KEY_SHAPE_HIDDEN}" / f"{KEY_SHAPE_HIDDEN}.c1z")
    parser = argparse.ArgumentParser()
    inspect.add_arguments(parser)
    table = io.StringIO()
    assert inspect.run(parser.parse_args([str(path)]), out=table) == 0
    assert API_KEY_SHAPE not in table.getvalue()
    assert APP_KEY_SHAPE not in table.getvalue()
    assert f"dd-{KEY_SHAPE_HIDDEN}" in table.getvalue().splitlines()[0]


@pytest.mark.parametrize("content", [b"", b"not a c1z at all"], ids=["empty", "garbage"])
def test_a_failure_line_does_not_show_a_key_in_the_file_name(keyed_dir: Path, content: bytes) -> None:
    path = keyed_dir / "sync.c1z"
    path.write_bytes(content)
    code, out, err = run_inspect(path)
    assert code == 2
    assert out == ""
    assert API_KEY_SHAPE not in err
    assert f"dd-{KEY_SHAPE_HIDDEN}" in err


def test_a_missing_file_named_by_a_key_is_not_shown(tmp_path: Path) -> None:
    code, _, err = run_inspect(tmp_path / APP_KEY_SHAPE)
    assert code == 2
    assert APP_KEY_SHAPE not in err
    assert KEY_SHAPE_HIDDEN in err
