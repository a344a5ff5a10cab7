"""What only a process shows: a one-shot run's exit code and its last line over a damaged `--file`, and that a
failed run leaves a file that still records a finished sync as it was (test_restart_over_damage.py in process)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from connector.baton.c1z.reader import C1ZReader
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.independent.c1z.hostile import edited, leftovers

pytestmark = pytest.mark.slow

API_KEY = "canaryc1zsuiteapikey0123456789ab"
APP_KEY = "canaryc1zsuiteappkey0123456789abcdef0123"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=30, seed=11, teams=3), api_key=API_KEY, app_key=APP_KEY) as server:
        yield server


def one_shot(fake: FakeDatadog, file: Path, work: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return subprocess.run(
        [sys.executable, "-m", "connector", "--api-key", API_KEY, "--app-key", APP_KEY, "--base-url", fake.base_url,
         "--file", str(file)],
        env={**clean, "BATON_LOG_FORMAT": "json", "BATON_C1Z_TEMP_DIR": str(work)},
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _quiet(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert API_KEY not in done.stderr + done.stdout
    assert APP_KEY not in done.stderr + done.stdout


def test_a_damaged_file_holding_a_finished_sync_survives_a_failed_run(fake: FakeDatadog, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    good = tmp_path / "good.c1z"
    first = one_shot(fake, good, work)
    assert first.returncode == 0, first.stderr[-2000:]
    damaged = edited(good, tmp_path / "sync.c1z", "CREATE TRIGGER noisy AFTER INSERT ON v1_grants BEGIN SELECT 1; END")
    before = damaged.read_bytes()

    fake.faults.force(403, path="/api/v2/team", times=50)
    try:
        failed = one_shot(fake, damaged, work)
    finally:
        fake.faults.clear()
    _quiet(failed)
    assert failed.returncode == 1, failed.stderr[-2000:]
    assert "existing c1z is damaged; starting a new sync instead of resuming" in failed.stderr
    assert "its unfinished run is not saved over the file's finished sync" in failed.stderr
    assert damaged.read_bytes() == before
    assert leftovers(work) == []
    assert leftovers(tmp_path, work, good, damaged) == []

    done = one_shot(fake, damaged, work)
    _quiet(done)
    assert done.returncode == 0, done.stderr[-2000:]
    with C1ZReader(damaged, work) as reader:
        (run,) = reader.sync_runs()
        assert run.finished
        assert reader.connection.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone() == (0,)
    assert leftovers(work) == []


def test_a_truncated_file_is_replaced_by_a_whole_sync(fake: FakeDatadog, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    path = tmp_path / "sync.c1z"
    assert one_shot(fake, path, work).returncode == 0
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    done = one_shot(fake, path, work)
    _quiet(done)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "truncated" in done.stderr
    with C1ZReader(path, work) as reader:
        (run,) = reader.sync_runs()
        assert run.finished
    assert leftovers(work) == []
    assert leftovers(tmp_path, work, path) == []
