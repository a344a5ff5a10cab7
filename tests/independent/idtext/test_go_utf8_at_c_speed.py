"""Class: reading bytes that are not UTF-8 as Go does (`gostrings.go_utf8_decode`) at a cost of Python calls per byte.

`go_utf8_decode` decoded through a Python codec error handler called once for every byte that is not UTF-8, and
`jsonbody.unicode_repaired` reads every Datadog body that fails to parse through it, on the event loop: a 31 MiB page
of `\\xff` in a name cost ~8 s of CPU (22 s for one cut short, repaired three times: `from_json`, the model's retry,
`parse_answer`'s second read for `errors`), where Python's "replace" cost 0.8 s. It now decodes in C
("surrogateescape", then each escaped byte replaced), with the same output as the handler (compared on many byte
strings below), and a body is repaired at most once per parse.
"""

from __future__ import annotations

import itertools
import random
import sys
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from connector.baton.gostrings import go_utf8_decode
from connector.datadog import decode, jsonbody
from connector.datadog.errors import DatadogError
from connector.datadog.models import ListEnvelope, User
from connector.datadog.transport import Reply
from tests.independent.idtext.test_go_utf8_reading import GO_READS


def _reference(data: bytes) -> str:
    """What the Python handler made: one U+FFFD for each byte of each range the UTF-8 decoder refuses."""
    out: list[str] = []
    at = 0
    while at < len(data):
        try:
            out.append(data[at:].decode("utf-8"))
            break
        except UnicodeDecodeError as exc:
            out.append(data[at : at + exc.start].decode("utf-8") + "\ufffd" * (exc.end - exc.start))
            at += exc.end
    return "".join(out)


def _byte_strings() -> Iterator[bytes]:
    yield from (raw for raw, _ in GO_READS)
    special = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEE]
    special += [0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xF8, 0xFE, 0xFF]
    yield from (bytes([a]) for a in range(256))
    yield from (bytes(p) for p in itertools.product(special, repeat=2))
    yield from (bytes(p) for p in itertools.product(special, repeat=3))
    # Surrogate encodings (refused by both), overlongs, the largest code point and one past it, U+FFFD itself, and a
    # character already a lone surrogate's escape would be confused with (U+DC80's encoding is refused).
    yield from (b"\xed\xa0\x80", b"\xed\xb2\x80", b"\xed\xbf\xbf", b"\xed\x9f\xbf", b"\xc0\x80", b"\xe0\x80\x80")
    yield from (b"\xf0\x80\x80\x80", b"\xf4\x8f\xbf\xbf", b"\xf4\x90\x80\x80", "\ufffd".encode(), b"x\xef\xbf\xbdy")
    rng = random.Random(1301)
    for _ in range(3000):
        yield bytes(rng.choice(special) if rng.random() < 0.7 else rng.randrange(256) for _ in range(rng.randrange(12)))


def test_the_c_reading_is_the_handlers_on_many_byte_strings() -> None:
    for data in _byte_strings():
        assert go_utf8_decode(data) == _reference(data), data
        assert go_utf8_decode(bytearray(data)) == _reference(data), data


@pytest.mark.parametrize(("raw", "go"), GO_READS, ids=range(len(GO_READS)))
def test_the_helpers_cases_still_read_as_go(raw: bytes, go: str) -> None:
    assert go_utf8_decode(raw) == go


def _python_calls(run: Any) -> int:
    """How many Python functions run while `run()` does (the per-byte codec handler was one a byte)."""
    calls = [0]

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            calls[0] += 1

    sys.setprofile(profile)
    try:
        run()
    finally:
        sys.setprofile(None)
    return calls[0]


def _bad_page(size: int) -> Reply:
    body = bytearray(b'{"data": [{"id": "u-1", "type": "users", "attributes": {"name": "' + b"\xff" * size)
    return Reply(status=200, headers={"content-type": "application/json"}, body=body, method="GET", path="/x")


def _parse(reply: Reply) -> None:
    with pytest.raises(DatadogError):
        decode.parse_answer(ListEnvelope[User], reply)


def test_a_page_of_bytes_not_utf8_is_not_one_python_call_a_byte() -> None:
    """The reviewer's measure: no Python call per bad byte (65,536 bytes were 65,536+ handler calls)."""
    _parse(_bad_page(1 << 8))  # first uses (imports, caches) out of the count
    small = _python_calls(lambda: _parse(_bad_page(1 << 8)))
    large = _python_calls(lambda: _parse(_bad_page(1 << 16)))
    assert large <= small + 10, f"{large} Python calls for 65,536 bad bytes, {small} for 256"
    assert go_utf8_decode(b"\xff" * (1 << 16)) == "\ufffd" * (1 << 16)


def test_a_body_that_does_not_parse_is_repaired_once(monkeypatch: pytest.MonkeyPatch) -> None:
    repairs = [0]
    original = jsonbody.unicode_repaired

    def counting(body: bytes | bytearray) -> bytes | None:
        repairs[0] += 1
        return original(body)

    monkeypatch.setattr(jsonbody, "unicode_repaired", counting)
    monkeypatch.setattr(decode, "unicode_repaired", counting, raising=False)
    _parse(_bad_page(1 << 10))
    assert repairs[0] == 1


def test_a_repaired_page_still_parses_as_go_reads_it() -> None:
    body = bytearray(b'{"data": [{"id": "u-1", "type": "users", "attributes": {"name": "a\xe2\x82", "email": "e"}}]}')
    reply = Reply(status=200, headers={"content-type": "application/json"}, body=body, method="GET", path="/x")
    page = decode.parse_answer(ListEnvelope[User], reply)
    assert [u.name for u in page.data] == ["a\ufffd\ufffd"]
