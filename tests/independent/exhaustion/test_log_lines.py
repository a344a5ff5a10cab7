"""One log line's length: a value of megabytes (an unexpected error quoting the 3 MB principal a task named, a peer's
bytes, a library record's message) is written as its first and last 16 kB and the count of what was cut between, in
JSON and on the console, in a debugged task's log as on the stream; a secret is still redacted wherever the cut falls;
and the closing line of a failed or crashed run is bounded the same way."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
import structlog

from connector import cli
from connector.daemon import logging as daemon_logging
from connector.daemon import main as daemon_main
from tests.baton.tasks.stubs import make_rig
from tests.fakes.tasks import grant_task

BOUND = daemon_logging.MAX_VALUE_CHARS
SECRET = "s3cr3t-canary-" + "k" * 40
HUGE = 10_000_000


@pytest.fixture
def logs() -> Iterator[Callable[[str], io.StringIO]]:
    """Configure the daemon's logging in a format onto a fresh stream; put everything back after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def configure(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        daemon_logging.configure("debug", fmt, stream)
        return stream

    daemon_logging.register_secret(SECRET)
    try:
        yield configure
    finally:
        structlog.reset_defaults()
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
        daemon_logging._secrets.discard(SECRET)
        daemon_logging._renew_patterns()


def _cut_value(value: str, total: int) -> None:
    assert len(value) < BOUND + 100
    assert f"{total - BOUND} of {total} characters cut" in value


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_ten_megabyte_field_is_one_bounded_line_keeping_its_head_and_tail(
    logs: Callable[[str], io.StringIO], fmt: str
) -> None:
    stream = logs(fmt)
    structlog.get_logger().warning("peer said", detail="H" + "x" * (HUGE - 2) + "T", blob=b"b" * HUGE)
    (line,) = stream.getvalue().splitlines()
    assert len(line) < 3 * BOUND
    assert "Hxxx" in line
    assert "xxxT" in line
    if fmt == "json":
        _cut_value(json.loads(line)["detail"], HUGE)


def test_an_unexpected_errors_traceback_quoting_megabytes_is_bounded(logs: Callable[[str], io.StringIO]) -> None:
    stream = logs("json")
    try:
        raise RuntimeError("boom " + "p" * HUGE)
    except RuntimeError as exc:
        structlog.get_logger().error("task handler raised an unexpected error", exc_info=exc)
    (record,) = map(json.loads, stream.getvalue().splitlines())
    shown = record["exception"]
    assert shown.startswith("Traceback")  # the frames, at its head
    assert shown.endswith("p" * 100)  # the message's end, at its tail
    assert len(shown) < BOUND + 100
    assert "characters cut" in shown


def test_a_library_records_message_of_megabytes_is_bounded(logs: Callable[[str], io.StringIO]) -> None:
    stream = logs("json")
    logging.getLogger("httpx").warning("peer answered %s", "q" * HUGE)
    (record,) = map(json.loads, stream.getvalue().splitlines())
    _cut_value(record["event"], len("peer answered ") + HUGE)


# Where the cut falls depends on the bound alone (the first and last halves of it are kept), so a value of a few
# bounds has both cuts where a 10 MB one has them: with 10 MB two of these cases cost 8 CPU-s each in `make test`
# (the redactor and the JSON writer over all of it), and proved nothing more. The tests above keep the megabytes.
LONG = 4 * BOUND


@pytest.mark.parametrize("at", [BOUND // 2 - 20, BOUND // 2, LONG - BOUND // 2 - 10])
def test_a_secret_where_the_cut_falls_is_still_redacted(logs: Callable[[str], io.StringIO], at: int) -> None:
    stream = logs("json")
    text = "a" * at + SECRET + "a" * (LONG - at)
    structlog.get_logger().warning("quoted", detail=text)
    out = stream.getvalue()
    assert SECRET not in out
    assert SECRET[:12] not in out
    assert SECRET[-12:] not in out


async def test_a_task_whose_handler_fails_quoting_a_three_megabyte_principal_logs_bounded_lines(
    logs: Callable[[str], io.StringIO],
) -> None:
    stream = logs("json")
    rig = make_rig()
    principal = "u" * 3_000_000
    rig.connector.provisioning.error = RuntimeError(f"no user {principal}")
    await rig.processor.process(grant_task("role", "r1", "member", principal))
    (finish,) = rig.client.finishes
    assert not finish.ok
    lines = stream.getvalue().splitlines()
    assert any("unexpected error" in line for line in lines)
    assert max(map(len, lines)) < 3 * BOUND


def test_the_closing_line_of_a_failed_run_is_bounded(capsys: pytest.CaptureFixture[str]) -> None:
    assert daemon_main.fail("Datadog said " + "d" * HUGE, 1) == 1
    _, err = capsys.readouterr()
    assert len(err) < BOUND + 200
    assert "characters cut" in err


def test_the_closing_line_of_a_crashed_run_is_bounded(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def crash(_: list[str]) -> int:
        raise RuntimeError("c" * HUGE)

    monkeypatch.setattr(cli, "_dispatch", crash)
    assert cli.main(["--log-level", "debug"]) == cli.EXIT_INTERNAL
    _, err = capsys.readouterr()
    assert err.count("characters cut") == 2  # the traceback (at debug) and the closing line
    assert len(err) < 3 * BOUND


@pytest.mark.parametrize("fmt", ["json", "console"])
@pytest.mark.parametrize("char", ["\U0001f600", "\x01", "é"], ids=["outside-the-bmp", "control", "accented"])
def test_a_value_of_characters_written_escaped_is_bounded_as_written(
    logs: Callable[[str], io.StringIO], fmt: str, char: str
) -> None:
    """The bound counted characters before escaping: 40,000 emoji (12 characters each as JSON writes them) made one
    line of 390 KB, control characters (6 each) one of 196 KB."""
    stream = logs(fmt)
    structlog.get_logger().warning("peer said", name=char * 40_000)
    (line,) = stream.getvalue().splitlines()
    assert len(line.encode()) <= BOUND + 1_000, len(line.encode())
    assert "of 40000 characters cut" in line


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_value_written_by_its_repr_is_bounded_as_written(logs: Callable[[str], io.StringIO], fmt: str) -> None:
    """A value that is no string is written by its repr; its length was counted in characters, so a set of 30,000
    emoji (JSON writes each as 12) made a line of 360 KB."""
    stream = logs(fmt)
    structlog.get_logger().warning("peer said", names={"\U0001f600" * 30_000}, raw=b"\x00" * 8_000)
    (line,) = stream.getvalue().splitlines()
    assert len(line.encode()) <= 2 * BOUND + 1_000, len(line.encode())
