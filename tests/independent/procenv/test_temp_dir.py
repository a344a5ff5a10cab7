"""TMPDIR naming what this process cannot use (not there: a typo, a volume not mounted; a file; a directory it cannot
write): Python's tempfile passed it over for /tmp without a word, so a sync meant for a large volume filled a small
tmpfs or the container's own layer (Go's `os.TempDir` takes TMPDIR as it is, and fails there). With no platform
directory writable either, the working files went to the working directory. Now a start-up warning (and `config`'s)
names the variable and where the files go instead; a TMPDIR in use, or BATON_C1Z_TEMP_DIR given, says nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.daemon.cli import KEYS, run_cli
from tests.e2e.harness import Stack, daemon_command

SKIPPED = "which is not a directory this process can write; the working files go to "


def one_shot_env(stack: Stack, **extra: str) -> dict[str, str]:
    (stack.root / "tmp").mkdir(exist_ok=True)
    env = stack.env({"BATON_CLIENT_ID": None, "BATON_CLIENT_SECRET": None, "BATON_HOST_ID": None, **extra})
    return {k: v for k, v in env.items() if not k.startswith(("BATON_C1", "BATON_HEALTH"))}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["missing", "a-file"])
def test_a_one_shot_sync_says_where_its_working_files_go_when_tmpdir_cannot_be_used(stack: Stack, kind: str) -> None:
    import subprocess

    named = stack.root / "scratch"
    if kind == "a-file":
        named.write_text("")
    target = stack.root / "sync.c1z"
    done = subprocess.run(
        [*daemon_command(), "--file", str(target)],
        env=one_shot_env(stack, TMPDIR=str(named)),
        cwd=stack.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    warnings = [
        record["event"]
        for line in done.stderr.splitlines()
        if line.startswith("{") and (record := json.loads(line))["level"] == "warning"
    ]
    assert f"environment TMPDIR names {named}, {SKIPPED}/tmp instead (fix TMPDIR, or give BATON_C1Z_TEMP_DIR)" in (
        warnings
    )


def test_config_says_it_too_and_nothing_when_tmpdir_is_used_or_the_setting_given(tmp_path: Path) -> None:
    missing = tmp_path / "not-there"
    said = run_cli("config", env={**KEYS, "TMPDIR": str(missing)})
    assert said.returncode == 0, said.stderr
    assert f"warning: environment TMPDIR names {missing}, {SKIPPED}" in said.stderr
    used = run_cli("config", env={**KEYS, "TMPDIR": f"{tmp_path}/"})  # its own spelling of the one used
    assert used.returncode == 0, used.stderr
    assert "TMPDIR" not in used.stderr
    assert str(tmp_path) in used.stdout
    given = run_cli("config", env={**KEYS, "TMPDIR": str(missing), "BATON_C1Z_TEMP_DIR": str(tmp_path)})
    assert given.returncode == 0, given.stderr
    assert "TMPDIR" not in given.stderr
