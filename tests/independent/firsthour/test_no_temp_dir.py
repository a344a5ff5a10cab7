"""A machine with no temporary directory this process can write (a read-only root and working directory, TMPDIR
naming what is not there), and no --c1z-temp-dir: issue 8 lists "a missing temp dir" among the operator mistakes
that end in one line naming the setting, exit 2. The sync found out after the key check, as an "unexpected error"
(exit 1); inspect named the file, not the variable."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.daemon.cli import last_line, run_cli_in_process
from tests.independent.firsthour.conftest import KEYS, assert_quiet

SAID = "not set, and the system has no temporary directory this process can write"


@pytest.fixture
def no_system_temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Patched once tmp_path, which pytest makes under the system's, is there."""

    def none_usable() -> str:
        raise FileNotFoundError(2, "No usable temporary directory found in ['/tmp', '/var/tmp', '/usr/tmp', '.']")

    monkeypatch.setattr(tempfile, "gettempdir", none_usable)


@pytest.mark.usefixtures("no_system_temp_dir")
def test_a_one_shot_sync_is_refused_naming_the_setting_before_any_request(tmp_path: Path) -> None:
    # Nothing listens at port 9: a request would end in "cannot reach", exit 1.
    env = {**KEYS, "BATON_BASE_URL": "http://127.0.0.1:9"}
    done = run_cli_in_process("--file", str(tmp_path / "sync.c1z"), env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    line = last_line(done.stderr)
    assert line.startswith(f"baton-datadog: setting --c1z-temp-dir (BATON_C1Z_TEMP_DIR): {SAID}"), line
    assert "cannot reach" not in done.stderr
    assert "unexpected error" not in done.stderr
    assert_quiet(done.stdout, done.stderr)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.usefixtures("no_system_temp_dir")
def test_inspect_names_the_variable_that_would_give_it_one(tmp_path: Path) -> None:
    from tests.fixtures_dir import FIXTURES_DIR

    done = run_cli_in_process("inspect", str(FIXTURES_DIR / "c1z" / "old-sdk-v0.1.14.small.c1z"), cwd=tmp_path)
    assert done.returncode == 2
    assert last_line(done.stderr) == f"baton-datadog: inspect: environment BATON_C1Z_TEMP_DIR: {SAID} (TMPDIR, " + (
        "/tmp, /var/tmp, /usr/tmp, the working directory were tried): give one that is"
    )


@pytest.mark.usefixtures("no_system_temp_dir")
def test_a_given_temp_dir_still_serves_without_the_systems(tmp_path: Path) -> None:
    from tests.fixtures_dir import FIXTURES_DIR

    done = run_cli_in_process(
        "inspect",
        str(FIXTURES_DIR / "c1z" / "old-sdk-v0.1.14.small.c1z"),
        env={"BATON_C1Z_TEMP_DIR": str(tmp_path)},
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "showing sync" in done.stdout


@pytest.mark.usefixtures("no_system_temp_dir")
def test_service_mode_is_refused_at_start_naming_the_setting() -> None:
    # Every sync would have failed on it while the pod stayed ready.
    from tests.fakes.c1.creds import generate_client_credentials
    from tests.fakes.net import refusing_port

    creds = generate_client_credentials("tenant.example.com")
    with refusing_port() as refused:
        env = {
            **KEYS,
            "BATON_CLIENT_ID": creds.client_id,
            "BATON_CLIENT_SECRET": creds.client_secret,
            "BATON_BASE_URL": f"http://127.0.0.1:{refused}",
            "BATON_C1_API_HOST": f"127.0.0.1:{refused}",
            "BATON_HEALTH_CHECK_PORT": "0",
        }
        done = run_cli_in_process(env=env)
    assert done.returncode == 2, done.stderr[-2000:]
    assert last_line(done.stderr).startswith(f"baton-datadog: setting --c1z-temp-dir (BATON_C1Z_TEMP_DIR): {SAID}")
    assert "health server listening" not in done.stderr
    assert creds.client_secret not in done.stderr
    assert_quiet(done.stdout, done.stderr)
