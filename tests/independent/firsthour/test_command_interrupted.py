"""Ctrl-C (or SIGTERM) during a command, as a person stops `inspect … --grants` whose listing they stopped reading:
one line that names the command, exit 130 / 143, nothing left in the temp dir. It said "interrupted by SIGINT while
starting; nothing was written", the one-shot run's start-up line, after seconds of listing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon.cli import clean_env
from tests.fixtures_dir import FIXTURES_DIR
from tests.independent.firsthour.conftest import assert_quiet

pytestmark = pytest.mark.slow

LARGE = FIXTURES_DIR / "c1z" / "old-sdk-v0.1.14.moderate.c1z"  # its grants list is ~300 KB: more than a pipe holds


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_inspect_stopped_while_listing_names_itself(tmp_path: Path, sig: signal.Signals) -> None:
    work = tmp_path / "work"
    work.mkdir()
    listing = subprocess.Popen(
        [sys.executable, "-m", "connector", "inspect", str(LARGE), "--grants"],
        env=clean_env({"BATON_C1Z_TEMP_DIR": str(work)}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert listing.stdout is not None
        assert listing.stdout.read(4096)  # it is listing; then the reader stops reading, and the pipe fills
        listing.send_signal(sig)
        _, err = listing.communicate(timeout=60)
    finally:
        if listing.poll() is None:
            listing.kill()
            listing.wait()
    stderr = err.decode()
    assert listing.returncode == 128 + int(sig), stderr
    assert stderr.strip().splitlines()[-1] == f"baton-datadog: inspect: interrupted by {sig.name}"
    assert "while starting" not in stderr
    assert_quiet(stderr)
    assert os.listdir(work) == []
