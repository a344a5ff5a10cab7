"""One written line is bounded as a whole, not only value by value: a log call with a list of many values (each cut to
its own bound) made one line of megabytes, past what a log shipper takes as one line. Cut, the line says so
(`line_cut`), keeps what happened, when and how bad, and is still one JSON object when JSON is written. Counted as
written: escaped characters count as what they become."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
import structlog

from connector.daemon import logging as daemon_logging

LINE = daemon_logging.MAX_LINE_CHARS
VALUE = daemon_logging.MAX_VALUE_CHARS


@pytest.fixture
def configured() -> Iterator[Callable[[str], io.StringIO]]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def configure(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        daemon_logging.configure("info", fmt, stream)
        return stream

    try:
        yield configure
    finally:
        structlog.reset_defaults()
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def test_a_list_of_many_values_each_at_its_bound_is_one_bounded_json_line(
    configured: Callable[[str], io.StringIO],
) -> None:
    stream = configured("json")
    ids = [f"id-{n}-" + "x" * VALUE for n in range(20)]  # each cut to its bound: 650 kB in all
    structlog.get_logger().warning("targets refused", task_id="t-1", ids=ids, count=len(ids))
    (line,) = stream.getvalue().splitlines()
    assert len(line) <= LINE
    record = json.loads(line)
    assert (record["event"], record["level"], record["task_id"], record["count"]) == (
        "targets refused",
        "warning",
        "t-1",
        20,
    )
    assert "timestamp" in record
    assert "values cut: ids" in record[daemon_logging.LINE_CUT]
    assert record["ids"].startswith('["id-0-xxx')  # its head, as its JSON text
    assert "characters cut" in record["ids"]


def test_a_line_of_thousands_of_keys_keeps_what_every_line_keeps(configured: Callable[[str], io.StringIO]) -> None:
    stream = configured("json")
    structlog.get_logger().info("answer fields", **{f"field_{n}": "v" * 100 for n in range(5_000)})
    (line,) = stream.getvalue().splitlines()
    assert len(line) <= LINE
    record = json.loads(line)
    assert record["event"] == "answer fields"
    assert "5000 other values left out" in record[daemon_logging.LINE_CUT]


def test_a_line_is_counted_as_written_not_in_characters(configured: Callable[[str], io.StringIO]) -> None:
    """An emoji is written as 12 characters in JSON (`\\ud83d\\ude00`): 20 values of 2,000 are 40,000 characters,
    480,000 written."""
    stream = configured("json")
    structlog.get_logger().info("names", names=["\U0001f600" * 2_000 for _ in range(20)])
    (line,) = stream.getvalue().splitlines()
    assert len(line.encode()) <= LINE
    assert json.loads(line)[daemon_logging.LINE_CUT]


def test_a_console_line_of_many_values_is_bounded_and_says_it_was_cut(
    configured: Callable[[str], io.StringIO],
) -> None:
    stream = configured("console")
    structlog.get_logger().warning("targets refused", ids=["y" * VALUE for _ in range(50)])
    (line,) = stream.getvalue().splitlines()
    assert len(line) <= LINE
    assert "targets refused" in line
    assert "characters cut" in line


def test_a_line_within_the_bound_is_written_as_it_was(configured: Callable[[str], io.StringIO]) -> None:
    stream = configured("json")
    structlog.get_logger().warning("peer said", detail="d" * VALUE, other="o" * VALUE)
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert daemon_logging.LINE_CUT not in record
    assert record["detail"] == "d" * VALUE
    assert record["other"] == "o" * VALUE


def test_a_line_whose_every_kept_field_is_at_its_bound_still_fits(configured: Callable[[str], io.StringIO]) -> None:
    """What a cut line keeps whole is bounded value by value too: an event, a task id and a logger name each of
    32 kB, with thousands of other fields, were one line over the bound."""
    stream = configured("json")
    log = structlog.get_logger("l" * VALUE).bind(task_id="t" * VALUE, task_type="y" * VALUE)
    log.info("e" * VALUE, **{f"field_{n}": "v" * 100 for n in range(5_000)})
    (line,) = stream.getvalue().splitlines()
    assert len(line) <= LINE
    record = json.loads(line)
    assert record["event"].startswith("eee")
    assert record["task_id"].startswith("ttt")
