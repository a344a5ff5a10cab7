"""Service mode's start-up checks of its files are the runner's, made once (connector/baton/runtime/service.py).

Checking that an existing --file is a c1z a periodic sync can resume means decompressing the whole of it (SQLite
cannot read it compressed): hundreds of MB of temp disk and seconds of CPU for a large org's file. The Datadog
wiring made the check, then handed its settings to the runner, which makes the same check (moved there
for every connector): every start read the file twice, for one answer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from connector.baton.c1z import reader
from connector.baton.c1z.envelope import decompress_to
from connector.baton.runtime import service as runner
from connector.daemon.service import run_service_mode
from connector.daemon.settings import Settings, SettingsError
from tests.c1z_fixtures import fixture_paths
from tests.fakes.c1.creds import generate_client_credentials


def _settings(tmp_path: Path, **changes: object) -> Settings:
    creds = generate_client_credentials("tenant.example.com")
    return Settings(
        client_id=creds.client_id,
        client_secret=creds.client_secret,  # type: ignore[arg-type]
        api_key="k" * 32,  # type: ignore[arg-type]
        app_key="a" * 40,  # type: ignore[arg-type]
        base_url="http://127.0.0.1:9",
        c1_api_host="127.0.0.1:9",
        **changes,  # type: ignore[arg-type]
    )


async def test_an_existing_sync_file_is_read_once_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    existing = tmp_path / "sync.c1z"
    shutil.copyfile(fixture_paths()[0], existing)
    decompressed: list[Path] = []

    def counted(c1z: Path, db: Path, stop: object = None) -> None:
        decompressed.append(c1z)
        decompress_to(c1z, db)

    served: list[runner.ServiceConfig] = []

    async def serve(config: runner.ServiceConfig, *rest: object) -> int:
        served.append(config)  # every start-up check passed: the service would connect from here
        return 0

    monkeypatch.setattr(reader, "decompress_to", counted)  # what the c1z reader opens a file with
    monkeypatch.setattr(runner, "_serve", serve)
    assert await run_service_mode(_settings(tmp_path, sync_interval=60, file=existing)) == 0
    assert [config.sync_file for config in served] == [existing]
    assert decompressed == [existing]


@pytest.mark.parametrize("case", ["temp-dir-missing", "periodic-file-not-a-c1z"])
async def test_a_file_refused_by_the_runner_names_the_setting_as_one_shot_does(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refusal is the runner's, in the wiring's words: the flag and its variable, as one-shot names them."""
    not_c1z = tmp_path / "notes.txt"
    not_c1z.write_text("not a sync file\n")
    changes: dict[str, object] = (
        {"c1z_temp_dir": tmp_path / "missing"} if case == "temp-dir-missing" else {"sync_interval": 60, "file": not_c1z}
    )
    monkeypatch.setattr(runner, "_serve", pytest.fail)
    with pytest.raises(SettingsError) as refused:
        await run_service_mode(_settings(tmp_path, **changes))
    (problem,) = refused.value.problems
    if case == "temp-dir-missing":
        assert (
            problem
            == f"setting --c1z-temp-dir (BATON_C1Z_TEMP_DIR): {tmp_path / 'missing'} does not exist or is not a directory"
        )
    else:
        assert problem.startswith(f"setting --file (BATON_FILE): {not_c1z}: the existing file is not a readable c1z")
    assert not_c1z.read_text() == "not a sync file\n"


async def test_a_setting_within_the_daemons_bounds_but_not_the_runners_is_a_settings_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runner's config refuses a value out of its own bounds when it is made: made outside the wiring's handler,
    a bound the two layers did not share came out as a ServiceSettingError traceback instead of exit 2 naming the
    setting."""
    monkeypatch.setattr(runner, "MAX_TASK_CONCURRENCY", 2)
    with pytest.raises(
        SettingsError, match=r"setting --task-concurrency \(BATON_TASK_CONCURRENCY\): 3 is out of range"
    ):
        await run_service_mode(_settings(tmp_path, task_concurrency=3))
