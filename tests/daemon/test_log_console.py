"""Console log lines show a peer's text escaped: one event is one line, and nothing in it acts on a terminal."""

from __future__ import annotations

import io
import logging

import structlog

from connector.daemon import logging as logs

FORGED = "refused\n2026-12-05T00:00:00Z [info     ] grant done\x1b]0;owned\x07\x1b[2J\u202eevil"


def console_output(emit: object) -> str:
    out = io.StringIO()
    logs.configure("info", "console", out)
    try:
        assert callable(emit)
        emit()
    finally:
        logs.configure("info", "json", io.StringIO())
    return out.getvalue()


def test_a_peers_text_as_a_console_lines_message_is_escaped_not_written_raw() -> None:
    text = console_output(lambda: structlog.get_logger("t").warning(FORGED, detail=FORGED))
    assert text.count("\n") == 1  # the event's own line, no forged second one
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\u202e" not in text
    # The message escaped here, the value quoted by the renderer as before: each escaped once, not twice.
    assert text.count("refused\\n2026-12-05") == 2
    assert "\\\\n" not in text
    assert "\\x1b]0;owned\\x07" in text
    assert "\\u202eevil" in text


def test_a_traceback_keeps_its_lines_and_loses_its_escape_sequences() -> None:
    def emit() -> None:
        try:
            raise ValueError("peer said \x1b[2J")
        except ValueError:
            structlog.get_logger("t").exception("failed")

    text = console_output(emit)
    assert "Traceback (most recent call last):\n" in text
    assert "\x1b" not in text
    assert "peer said \\x1b[2J" in text


def test_a_peers_text_as_the_event_or_through_the_standard_library_is_escaped_too() -> None:
    def emit() -> None:
        structlog.get_logger("t").warning(FORGED)
        logging.getLogger("grpc.test").warning("status detail: %s", FORGED)

    text = console_output(emit)
    assert text.count("\n") == 2
    assert "\x1b" not in text
    assert "\u202e" not in text


def test_json_lines_are_left_to_the_json_encoder() -> None:
    out = io.StringIO()
    logs.configure("info", "json", out)
    structlog.get_logger("t").warning("finish refused", detail="a\nb")
    assert '"detail": "a\\nb"' in out.getvalue()  # escaped once, by JSON; not "a\\\\nb"


def test_a_peers_escape_sequence_as_a_value_without_spaces_is_quoted_and_escaped() -> None:
    # The renderer quotes a value only when it holds a space, a newline, `=` or a quote: an escape sequence, a C1
    # control or a bidi override alone (a peer's header, code or id) was written raw.
    bare = "\x1b]0;owned\x07\x1b[2J\u202eevil\x85\u2028x"
    text = console_output(lambda: structlog.get_logger("t").warning("refused", detail=bare, plain="ok-value"))
    assert text.count("\n") == 1
    for raw in ("\x1b", "\x07", "\u202e", "\x85", "\u2028"):
        assert raw not in text
    assert "detail='\\x1b]0;owned\\x07\\x1b[2J\\u202eevil\\x85\\u2028x'" in text
    assert "plain=ok-value" in text  # a printable value is shown as before
