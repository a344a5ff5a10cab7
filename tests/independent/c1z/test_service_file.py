"""Service mode with periodic syncs to `--file`: its start-up check reads an existing file as one-shot does
(connector/baton/runtime/service.py, `output_file_problem`), and each periodic sync goes through `sync_to_file`,
the one-shot path the other modules of this suite attack. What is not a c1z is refused at start, naming the setting;
a damaged c1z is accepted (the first periodic sync starts over in its place); nothing waits on a FIFO.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from connector.baton.runtime import service as runner
from connector.daemon.service import run_service_mode
from connector.daemon.settings import Settings, SettingsError
from tests.fakes.c1.creds import generate_client_credentials
from tests.independent.c1z.hostile import MAGIC, database_of, envelope, good_c1z, leftovers


def _settings(tmp: Path, file: Path) -> Settings:
    creds = generate_client_credentials("tenant.example.com")
    return Settings(
        client_id=creds.client_id,
        client_secret=creds.client_secret,  # type: ignore[arg-type]
        api_key="k" * 32,  # type: ignore[arg-type]
        app_key="a" * 40,  # type: ignore[arg-type]
        base_url="http://127.0.0.1:9",
        c1_api_host="127.0.0.1:9",
        sync_interval=60,
        file=file,
        c1z_temp_dir=tmp,
    )


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("good")
    return asyncio.run(good_c1z(where / "good.c1z", where))


def _fifo(where: Path, good: Path) -> Path:
    os.mkfifo(where / "sync.c1z")
    return where / "sync.c1z"


def _bare_database(where: Path, good: Path) -> Path:
    (where / "sync.c1z").write_bytes(database_of(good))
    return where / "sync.c1z"


def _write(data: bytes) -> Callable[[Path, Path], Path]:
    def make(where: Path, good: Path) -> Path:
        (where / "sync.c1z").write_bytes(data)
        return where / "sync.c1z"

    return make


REFUSED: dict[str, tuple[Callable[[Path, Path], Path], str]] = {
    "a FIFO": (_fifo, "is not a regular file"),
    "a bare SQLite database": (_bare_database, "a bare SQLite database, without the c1z envelope"),
    "a window over 128 MiB": (
        _write(MAGIC + bytes.fromhex("28b52ffd") + bytes([0x00, (28 - 10) << 3]) + b"\x01\x00\x00"),
        "exceeds the 128 MiB limit",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_a_file_that_is_no_c1z_is_refused_at_start_naming_the_setting(
    case: str, good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make, phrase = REFUSED[case]
    path = make(tmp_path, good)
    monkeypatch.setattr(runner, "_serve", pytest.fail)
    with pytest.raises(SettingsError) as refused:
        await run_service_mode(_settings(tmp_path, path))
    (problem,) = refused.value.problems
    assert problem.startswith(f"setting --file (BATON_FILE): {path}")
    assert phrase in problem
    assert "\n" not in problem
    assert leftovers(tmp_path, path) == []


async def test_a_damaged_c1z_is_accepted_at_start_for_the_first_sync_to_replace(
    good: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sync.c1z"
    path.write_bytes(envelope(database_of(good))[:-64])  # truncated
    served: list[Path] = []

    async def serve(config: runner.ServiceConfig, *rest: object) -> int:
        served.append(config.sync_file)
        return 0

    monkeypatch.setattr(runner, "_serve", serve)
    assert await run_service_mode(_settings(tmp_path, path)) == 0
    assert served == [path]
    assert leftovers(tmp_path, path) == []
