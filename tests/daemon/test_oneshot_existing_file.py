"""One-shot `--file` pointing at an existing file, as a user runs it: an old Go SDK's c1z is replaced, a file
that is not a c1z is refused and left alone, with one line naming it (issue 8 §4, issue 11 §9)."""

from __future__ import annotations

import shutil
from pathlib import Path

from connector.baton.c1z.reader import C1ZReader
from tests.c1z_fixtures import FIXTURE_DIR
from tests.daemon.test_oneshot import API_CANARY, APP_CANARY, fake, run
from tests.fakes.datadog import FakeDatadog

__all__ = ["fake"]  # the module-scoped fake Datadog of test_oneshot, shared


def one_shot(fake: FakeDatadog, out: Path, tmp: Path) -> tuple[int, str]:
    done = run(
        "--api-key", API_CANARY, "--app-key", APP_CANARY, "--base-url", fake.base_url, "--file", str(out),
        env={"BATON_C1Z_TEMP_DIR": str(tmp)},
    )  # fmt: skip
    return done.returncode, done.stderr


def test_an_old_sdk_file_is_replaced_by_a_finished_sync(fake: FakeDatadog, tmp_path: Path) -> None:
    out = tmp_path / "sync.c1z"
    shutil.copyfile(FIXTURE_DIR / "old-sdk-v0.1.14.moderate.c1z", out)
    with C1ZReader(out) as reader:
        (old,) = reader.sync_runs()
    code, stderr = one_shot(fake, out, tmp_path)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    with C1ZReader(out) as reader:
        (run_,) = reader.sync_runs()
        assert run_.sync_id != old.sync_id
        assert run_.finished
        assert sum(1 for _ in reader.resources("user")) == 120
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sync.c1z"], "no working files left behind"


def test_a_file_that_is_not_a_c1z_is_refused_and_kept(fake: FakeDatadog, tmp_path: Path) -> None:
    out = tmp_path / "notes.txt"
    out.write_text("my notes, not a sync file\n")
    code, stderr = one_shot(fake, out, tmp_path)
    assert code == 2  # an operator mistake, caught before any Datadog request (connector/daemon/oneshot.py)
    assert "Traceback" not in stderr
    assert "setting --file (BATON_FILE)" in stderr.splitlines()[-1]
    assert f"{out}: not a c1z file (bad magic" in stderr
    assert out.read_text() == "my notes, not a sync file\n"


def test_a_symlinked_file_is_written_through_the_link(fake: FakeDatadog, tmp_path: Path) -> None:
    """`--file` may be a link to where the file lives (a mounted volume): the sync lands in the target and the
    link stays a link; the rename of the save would otherwise replace the link and leave the target stale."""
    data = tmp_path / "volume"
    data.mkdir()
    link = tmp_path / "sync.c1z"
    link.symlink_to(data / "sync.c1z")
    code, stderr = one_shot(fake, link, tmp_path)
    assert code == 0, stderr
    assert link.is_symlink()
    with C1ZReader(data / "sync.c1z") as reader:
        (run_,) = reader.sync_runs()
        assert run_.finished
    assert sorted(p.name for p in data.iterdir()) == ["sync.c1z"], "no working files left behind"


def test_a_symlink_loop_or_a_link_into_nowhere_is_refused_before_any_request(tmp_path: Path) -> None:
    import pytest

    from connector.daemon.oneshot import check_output_file
    from connector.daemon.settings import SettingsError

    loop = tmp_path / "loop.c1z"
    loop.symlink_to(loop)
    with pytest.raises(SettingsError, match=r"--file \(BATON_FILE\): .*loop\.c1z.*symbolic link"):
        check_output_file(loop, None)
    nowhere = tmp_path / "nowhere.c1z"
    nowhere.symlink_to(tmp_path / "absent" / "sync.c1z")
    with pytest.raises(SettingsError, match=r"--file \(BATON_FILE\): .*absent.* does not exist"):
        check_output_file(nowhere, None)


def test_a_run_into_a_file_another_run_is_writing_is_refused_and_leaves_it_alone(
    fake: FakeDatadog, tmp_path: Path
) -> None:
    """Two one-shot runs into one --file (a cron job overlapping the last): the second is refused in one line naming
    the file, exit 1, and the file the first is writing is left to it (docs/c1z.md)."""
    import fcntl
    import os

    out = tmp_path / "sync.c1z"
    shutil.copyfile(FIXTURE_DIR / "old-sdk-v0.1.14.moderate.c1z", out)
    before = out.read_bytes()
    lock = os.open(tmp_path / ".sync.c1z.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # as the other run holds it, from its opening of the file to its save
        code, stderr = one_shot(fake, out, tmp_path)
    finally:
        os.close(lock)
    assert code == 1, stderr
    assert "Traceback" not in stderr
    real = Path(os.path.realpath(tmp_path))  # the lock is beside where the file really is
    assert stderr.splitlines()[-1] == (
        f"baton-datadog: another sync is writing {real / 'sync.c1z'} (it holds {real / '.sync.c1z.lock'}); "
        "run again when it has ended"
    )
    assert out.read_bytes() == before
