"""File and directory names that are not UTF-8, given where a setting takes a path (BATON_C1Z_TEMP_DIR, BATON_FILE).

A name on Linux is any bytes but NUL and `/`; Python reads the undecodable ones as lone surrogates (`\\udcff` for the
byte 0xff). Every reader of such a name works on the bytes: the sync runs, saves and can be inspected, and what is
written about the name (a log line, `config --json`) is valid JSON that a strict reader takes, with each byte shown
as `\\xff`, as `inspect --json` and every closing line show it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path

import pytest
import structlog

from connector.baton.c1z.reader import C1ZReader
from connector.baton.sync.to_file import sync_to_file
from connector.cli import main
from connector.daemon import logging as logs
from tests.baton.fake_connector import Faults, Org, expected_grant_ids, syncers
from tests.baton.test_sync_engine import options


def _not_utf8(parent: Path, name: bytes) -> Path:
    path = Path(os.fsdecode(os.fsencode(parent) + b"/" + name))
    path.mkdir()
    return path


async def test_a_sync_whose_temp_dir_is_named_in_no_utf8_is_saved_and_reads_whole(tmp_path: Path) -> None:
    """The compaction before the save named its copy to SQLite as text: UnicodeEncodeError once the whole sync was
    done, "unexpected error", exit 1, and the run's work lost."""
    temp_dir = _not_utf8(tmp_path, b"work\xff")
    out = tmp_path / "sync.c1z"
    org = Org()
    await sync_to_file(syncers(org, Faults()), out, options(), tmp_dir=temp_dir)
    with C1ZReader(out, temp_dir) as reader:
        assert {grant.id for grant in reader.grants(None, reader.default_sync_id())} == expected_grant_ids(org)
    assert list(temp_dir.iterdir()) == []  # no working file left in it


async def test_a_sync_file_named_in_no_utf8_is_saved_and_reads_whole(tmp_path: Path) -> None:
    directory = _not_utf8(tmp_path, b"out\xfe")
    out = Path(os.fsdecode(os.fsencode(directory) + b"/sync\xff.c1z"))
    org = Org()
    await sync_to_file(syncers(org, Faults()), out, options(), tmp_dir=tmp_path)
    with C1ZReader(out, tmp_path) as reader:
        assert {grant.id for grant in reader.grants(None, reader.default_sync_id())} == expected_grant_ids(org)


def _strict(text: str) -> object:
    """`text` read as a strict JSON reader reads it: a `\\udcff` escape, half a surrogate pair, is refused."""
    parsed = json.loads(text)
    json.dumps(parsed, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError on a lone surrogate
    return parsed


def _config_json(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> tuple[int, str, str]:
    for key in [key for key in os.environ if key.startswith("BATON_")]:
        monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)  # os.environ writes a lone surrogate back as the byte it stands for
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["config", "--json"])
    return code, out.getvalue(), err.getvalue()


def test_config_json_names_each_byte_that_is_not_utf8_and_stays_strict_json(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    temp_dir = _not_utf8(tmp_path, b"work\xff")
    code, out, _ = _config_json(
        monkeypatch,
        {
            "BATON_FILE": os.fsdecode(b"/data/sync\xfe.c1z"),
            "BATON_C1Z_TEMP_DIR": str(temp_dir),
            "BATON_CA_BUNDLE": os.fsdecode(b"/etc/ca\xfd.pem"),
            os.fsdecode(b"BATON_SIT\xc5"): "datadoghq.eu",  # an unknown variable whose name is not UTF-8
        },
    )
    assert code == 2  # the run refuses them (no /data, no such CA bundle): the refusals are strict JSON too
    shown = _strict(out)
    assert isinstance(shown, dict)
    assert any("/etc/ca\\xfd.pem" in error for error in shown["errors"]), shown["errors"]
    values = {name: row["value"] for name, row in shown["settings"].items()}
    assert values["file"] == "/data/sync\\xfe.c1z"
    assert values["c1z_temp_dir"] == f"{tmp_path}/work\\xff"
    assert values["ca_bundle"] == "/etc/ca\\xfd.pem"
    assert any("BATON_SIT\\xc5" in warning for warning in shown["warnings"])


def test_a_json_log_line_naming_a_file_that_is_not_utf8_is_strict_json() -> None:
    """The `starting`, `wrote sync file` and `c1z saved` lines name the file: a strict reader of the log (a collector)
    refused each of them."""
    out = io.StringIO()
    logs.configure("info", "json", out)
    try:
        structlog.get_logger("t").info(
            "wrote sync file\udcff", file=os.fsdecode(b"/data/sync\xff.c1z"), nested={"dir": os.fsdecode(b"/w\xfe")}
        )
        structlog.get_logger("t").warning("failed", error=OSError(2, "No such file", os.fsdecode(b"/x\xfd")))
    finally:
        logs.configure("info", "json", io.StringIO())
    first, second = (_strict(line) for line in out.getvalue().splitlines())
    assert first == {
        "event": "wrote sync file\\xff",
        "file": "/data/sync\\xff.c1z",
        "nested": {"dir": "/w\\xfe"},
        "level": "info",
        "timestamp": first["timestamp"],  # type: ignore[index]
    }
    assert second["error"].startswith("FileNotFoundError: [Errno 2] No such file")  # type: ignore[index]
