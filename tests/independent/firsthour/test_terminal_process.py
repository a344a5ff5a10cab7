"""The one-shot sync with its standard error on a terminal (a pseudo-terminal), as a person runs it: the live line
and the console lines honour NO_COLOR and TERM=dumb, and no log line is written onto the live line."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.cli import clean_env
from tests.fakes.datadog import FakeDatadog, generate_org
from tests.independent.firsthour.conftest import API_KEY, APP_KEY, assert_quiet
from tests.independent.firsthour.test_terminal import Terminal

pytestmark = pytest.mark.slow

COLOR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeDatadog]:
    with FakeDatadog(generate_org(users=30, seed=403, teams=3, schedules=0), api_key=API_KEY, app_key=APP_KEY) as dd:
        yield dd


def on_a_terminal(fake: FakeDatadog, tmp_path: Path, **environ: str) -> str:
    """What the terminal got on standard error from a one-shot sync (standard output, the summary, is a pipe)."""
    env = clean_env({"BATON_API_KEY": API_KEY, "BATON_APP_KEY": APP_KEY, "BATON_BASE_URL": fake.base_url})
    env.pop("BATON_LOG_FORMAT")  # a terminal: console lines, as a person gets them
    env.pop("NO_COLOR", None)
    env |= environ
    controller, follower = pty.openpty()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "connector", "--file", str(tmp_path / "sync.c1z")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=follower,
            text=True,
            timeout=120,
            check=False,
        )
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the writer is gone and all was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(controller)
        if follower >= 0:
            os.close(follower)
    assert done.returncode == 0, done.stdout
    assert "resource type" in done.stdout
    shown = b"".join(chunks).decode().replace("\r\n", "\n")
    assert_quiet(shown, done.stdout)
    return shown


def test_no_color_on_a_terminal_gives_plain_lines_each_on_its_own(fake: FakeDatadog, tmp_path: Path) -> None:
    shown = on_a_terminal(fake, tmp_path, TERM="xterm-256color", NO_COLOR="1")
    assert not COLOR.search(shown)
    assert "\x1b[K" in shown  # the live line still shows: NO_COLOR is about colors
    screen = Terminal()
    screen.write(shown)
    logged = [line for line in screen.screen() if "[info" in line]
    assert any("sync finished" in line for line in logged)
    for line in logged:
        assert re.match(r"\d{4}-\d\d-\d\dT", line), line


def test_a_dumb_terminal_gets_no_escape_sequence(fake: FakeDatadog, tmp_path: Path) -> None:
    shown = on_a_terminal(fake, tmp_path, TERM="dumb")
    assert "\x1b" not in shown
    assert "sync finished" in shown
