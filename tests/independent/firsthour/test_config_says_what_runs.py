"""README: `baton-datadog config` prints "every effective setting and where it came from". Where nothing is given,
the run decides some values itself; config says what it decides, not "" or null."""

from __future__ import annotations

import json
import re
import socket
import tempfile
from pathlib import Path

import pytest

from tests.daemon.cli import run_cli_in_process
from tests.independent.firsthour.conftest import KEYS, assert_quiet


def effective(*args: str, env: dict[str, str] | None = None) -> dict[str, dict[str, object]]:
    done = run_cli_in_process("config", "--json", *args, env={**KEYS, **(env or {})})
    assert done.returncode == 0, done.stderr
    assert_quiet(done.stdout, done.stderr)
    settings: dict[str, dict[str, object]] = json.loads(done.stdout)["settings"]
    return settings


def test_the_log_format_off_a_terminal_is_json_as_the_run_logs() -> None:
    # It said "" (default) while the run beside it wrote JSON lines.
    env = {"BATON_LOG_FORMAT": ""}  # clean_env sets json: not set here, so the default decides
    assert effective(env=env)["log_format"] == {"value": "json", "source": "default", "env": "BATON_LOG_FORMAT"}


def test_a_given_log_format_is_shown_as_given() -> None:
    assert effective("--log-format", "console")["log_format"]["value"] == "console"


def test_the_host_id_is_the_hostname_hello_sends() -> None:
    assert effective()["host_id"] == {"value": socket.gethostname(), "source": "default", "env": "BATON_HOST_ID"}
    assert effective("--host-id", "pod-7")["host_id"]["value"] == "pod-7"


def test_the_working_files_directory_is_the_systems_temp_dir(tmp_path: Path) -> None:
    # It said null. The system's is what the store's working files use (`tempfile.gettempdir()`, TMPDIR first).
    row = effective()["c1z_temp_dir"]
    assert row == {"value": tempfile.gettempdir(), "source": "default", "env": "BATON_C1Z_TEMP_DIR"}
    given = tmp_path / "work"
    given.mkdir()  # one that is not there is refused, as the run refuses it (tests/independent/config)
    assert effective("--c1z-temp-dir", str(given))["c1z_temp_dir"]["value"] == str(given)


def test_the_table_keeps_its_columns_for_a_long_value() -> None:
    # The value column was 30 wide: a pod's host name pushed its source and variable out of line.
    host = "baton-datadog-acme-7f9c4d5b8-x2k9q.security.svc"
    done = run_cli_in_process("config", "--host-id", host, env=KEYS)
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    sources = {match.start(1) for line in lines if (match := re.search(r" (default|flag|env|file) +BATON_", line))}
    assert len(sources) == 1, lines
    assert any(host in line for line in lines)


def _temp_candidates(monkeypatch: pytest.MonkeyPatch, *candidates: Path) -> None:
    """`tempfile` as a process that has not chosen its temp dir yet, trying only `candidates` (TMPDIR's first)."""
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(tempfile, "_candidate_tempdir_list", lambda: [str(path) for path in candidates])


def test_the_working_files_directory_is_the_one_the_run_would_use_not_a_missing_tmpdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    usable = tmp_path / "usable"
    usable.mkdir()
    _temp_candidates(monkeypatch, tmp_path / "missing", usable)
    assert effective(env={"TMPDIR": str(tmp_path / "missing")})["c1z_temp_dir"]["value"] == str(usable)
    assert list(usable.iterdir()) == []  # the probe that found it (the run's own lookup) is gone again


@pytest.mark.parametrize("as_json", [True, False])
def test_config_with_no_usable_temp_dir_says_so_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    # It was "unexpected error: FileNotFoundError: [Errno 2] No usable temporary directory found", exit 1.
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    _temp_candidates(monkeypatch, tmp_path / "missing", not_a_directory)
    done = run_cli_in_process(
        "config", *(["--json"] if as_json else []), env={**KEYS, "TMPDIR": str(tmp_path / "missing")}
    )
    assert done.returncode == 0, done.stderr
    assert_quiet(done.stdout, done.stderr)
    why = (
        "setting --c1z-temp-dir (BATON_C1Z_TEMP_DIR): not set, and the system has no temporary directory this process "
        "can write"
    )
    if as_json:
        shown = json.loads(done.stdout)
        assert shown["settings"]["c1z_temp_dir"]["value"] is None
        assert [warning for warning in shown["warnings"] if warning.startswith(why)]
    else:
        assert re.search(r"^c1z-temp-dir +null +default +BATON_C1Z_TEMP_DIR$", done.stdout, re.M), done.stdout
        assert f"warning: {why}" in done.stderr
    assert sorted(tmp_path.iterdir()) == [not_a_directory]
