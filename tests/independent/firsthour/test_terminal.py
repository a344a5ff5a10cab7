"""What a person at a terminal sees: console log lines and the one-shot progress line, with the conventions a CLI
user sets for every program (NO_COLOR, TERM=dumb), and a progress line that never swallows a log line."""

from __future__ import annotations

import io
import re

import pytest
import structlog

from connector.daemon import logging as logs
from connector.daemon.progress import Progress

ESCAPE = "\x1b"
COLOR = re.compile(r"\x1b\[[0-9;]*m")


class Terminal(io.StringIO):
    """A stream that says it is a terminal, and shows what a terminal would: `\\r` goes back to the line's start,
    `ESC[K` erases the rest of it."""

    def isatty(self) -> bool:
        return True

    def screen(self) -> list[str]:
        lines: list[str] = []
        for raw in self.getvalue().split("\n"):
            shown, col = "", 0
            for piece in re.split(r"(\r|\x1b\[K)", raw):
                if piece == "\r":
                    col = 0
                elif piece == "\x1b[K":
                    shown = shown[:col]
                else:
                    shown = shown[:col] + piece + shown[col + len(piece) :]
                    col += len(piece)
            lines.append(shown)
        return lines


@pytest.fixture(autouse=True)
def _plain_logs_after() -> object:
    yield
    logs.configure("info", "json", io.StringIO())


def console_lines(monkeypatch: pytest.MonkeyPatch, **environ: str) -> str:
    for name in ("NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    out = Terminal()
    logs.configure("info", "console", out)
    structlog.get_logger("t").warning("refused", detail="x")
    return out.getvalue()


def test_a_terminal_gets_colors_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert COLOR.search(console_lines(monkeypatch, TERM="xterm-256color"))


@pytest.mark.parametrize("value", ["1", "true", "0", "yes"])
def test_no_color_set_to_any_value_turns_the_colors_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    # https://no-color.org: set to any non-empty value, whatever it says. The lines were colored regardless.
    text = console_lines(monkeypatch, TERM="xterm-256color", NO_COLOR=value)
    assert ESCAPE not in text
    assert "refused" in text


def test_an_empty_no_color_is_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    assert COLOR.search(console_lines(monkeypatch, TERM="xterm", NO_COLOR=""))


def test_a_dumb_terminal_gets_no_escape_sequence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ESCAPE not in console_lines(monkeypatch, TERM="dumb")


def test_a_dumb_terminal_gets_no_live_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # `ESC[K` on a terminal without cursor control is printed as text: the live line is for terminals that take it.
    monkeypatch.setenv("TERM", "dumb")
    assert not logs.terminal(Terminal())
    monkeypatch.setenv("TERM", "xterm")
    assert logs.terminal(Terminal())
    assert not logs.terminal(io.StringIO())


def test_a_log_line_written_while_the_progress_line_shows_starts_a_line_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # It was written after the progress text on the same line: "syncing…  … grants 80 2026-…Z [info] sync finished".
    monkeypatch.setenv("NO_COLOR", "1")
    out = Terminal()
    logs.configure("info", "console", out)
    progress = Progress(out, live=True)
    progress.page_stored("resources", "user", 20)
    structlog.get_logger("t").info("sync finished", grants=80)
    progress.page_stored("grants", "role", 21)
    progress.sync_finished()
    structlog.get_logger("t").info("c1z saved")
    progress.finish()
    out.write("resource type  resources\n")
    screen = [line for line in out.screen() if line]
    logged = [line for line in screen if "[info" in line]
    assert len(logged) == 2, screen
    for line in logged:
        assert re.match(r"\d{4}-\d\d-\d\dT", line), line
        assert "syncing" not in line
        assert "saving" not in line
    assert screen[-1] == "resource type  resources"  # the live line is gone before the summary


def test_the_progress_line_comes_back_after_a_log_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = Terminal()
    logs.configure("info", "console", out)
    progress = Progress(out, live=True)
    progress.page_stored("resources", "user", 20)
    structlog.get_logger("t").info("a line")
    progress.page_stored("resources", "user", 5)
    screen = out.screen()
    assert "resources       25" in screen[-1]
    assert screen[-2].endswith("a line")
    progress.finish()
